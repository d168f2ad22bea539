"""The channels hub (seed 002, OneBooking Central): source websites push their bookings in with
an API key and receive staff edits back by signed webhooks."""
