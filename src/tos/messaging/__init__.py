"""Messages to customers: templates per organization and language over shipped defaults,
e-mail (SMTP or a file sink) and SMS (Twilio-compatible or a file sink), and the communication
log. Entry points: service.queue, service.deliver (outbox "messaging.deliver"), api.router."""
