"""Message templates without a database: the shipped defaults, sandboxed rendering and its
escaping, the checks a template passes when saved, formatting, the e-mail and SMS building
blocks (Message-ID, file sinks, Twilio's request signature)."""

from __future__ import annotations

import datetime as dt
import email as stdlib_email
from email import policy

import pytest

from tos.core.errors import ValidationFailed
from tos.messaging import email, render, sms, templates
from tos.messaging.models import MESSAGE_KINDS
from tos.messaging.service import check_template


@pytest.mark.parametrize("language", ["en", "pt"])
def test_every_kind_and_channel_has_a_shipped_default_that_renders(language):
    for kind in MESSAGE_KINDS:
        for channel in ("email", "sms"):
            tpl = templates.shipped().get((kind, channel, language))
            if not templates.applies(kind, channel):
                assert tpl is None
                continue
            assert tpl is not None, (kind, channel, language)
            out = render.render(tpl.subject, tpl.body_text, tpl.body_html,
                                render.sample_context(language))  # fmt: skip
            assert "BK-2026-ABC123" in out.text
            if channel == "email":
                assert out.subject and "\n" not in out.subject
                assert out.html and "<html" in out.html
            else:
                assert tpl.subject is None and tpl.body_html is None


def test_defaults_read_in_their_language():
    pt = templates.shipped()[("confirmation", "email", "pt")]
    out = render.render(pt.subject, pt.body_text, pt.body_html, render.sample_context("pt"))
    assert out.subject.startswith("Reserva confirmada")
    assert "segunda-feira, 18 de maio de 2026 às 09:00" in out.text
    assert "100,00 €" in out.text


def test_html_is_escaped_and_text_is_not():
    ctx = render.sample_context()
    ctx["customer"] = {**ctx["customer"], "first_name": '<script>alert("x")</script>'}
    tpl = templates.shipped()[("confirmation", "email", "en")]
    out = render.render(tpl.subject, tpl.body_text, tpl.body_html, ctx)
    assert "<script>" not in out.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in out.html
    assert '<script>alert("x")</script>' in out.text  # plain text is not HTML


def test_the_sandbox_refuses_unsafe_attributes():
    with pytest.raises(render.RenderError):
        render.render_part("body_text", "{{ booking.__class__.__mro__ }}", render.sample_context())
    with pytest.raises(render.RenderError):
        render.render_part("body_text", "{{ ''.__class__.__subclasses__() }}", {})


def test_a_subject_is_one_line():
    assert render.render("A\r\nBcc: x@example.com", "t", None, {}).subject == (
        "A Bcc: x@example.com"
    )


# --- checks when a template is saved ---------------------------------------------------------


def _error(**kw):
    base = {"kind": "confirmation", "channel": "email", "language": "en",
            "subject": "Hi", "body_text": "Hello", "body_html": None}  # fmt: skip
    with pytest.raises(ValidationFailed) as info:
        check_template(**{**base, **kw})
    return info.value


def test_a_syntax_error_names_its_part_and_line():
    err = _error(body_html="<p>ok</p>\n<p>{% if booking %}</p>\n")
    assert err.details["part"] == "body_html"
    assert err.details["fields"][0]["path"] == ["body_html"]
    assert err.details["line"] is not None
    assert err.message.startswith(f"line {err.details['line']}:")


def test_an_unknown_variable_names_its_line():
    err = _error(body_text="Hello {{ customer.first_name }},\n\nYour {{ bookng.reference }}\n")
    assert err.details == {**err.details, "part": "body_text", "line": 3}
    assert "bookng" in err.message


@pytest.mark.parametrize(
    ("kw", "path"),
    [
        ({"kind": "newsletter"}, "kind"),
        ({"channel": "fax"}, "channel"),
        ({"channel": "sms", "subject": None, "kind": "payment_receipt"}, "channel"),
        ({"channel": "sms", "subject": "Hi"}, "subject"),
        ({"channel": "sms", "subject": None, "body_html": "<p>x</p>"}, "body_html"),
        ({"subject": " "}, "subject"),
        ({"body_text": "  "}, "body_text"),
    ],
)
def test_templates_must_fit_their_channel(kw, path):
    assert _error(**kw).details["fields"][0]["path"] == [path]


def test_a_good_template_passes():
    check_template("reminder", "sms", "pt", None, "{{ booking.reference }}", None)
    check_template("refund", "email", "en", "{{ refund.amount }}", "x", "<b>{{ amount }}</b>")


# --- formatting ------------------------------------------------------------------------------


def test_money_formatting():
    assert render.format_money(123450, "EUR", "en") == "€1,234.50"
    assert render.format_money(123450, "EUR", "pt") == "1.234,50 €"
    assert render.format_money(1500, "JPY", "en") == "¥1,500"
    assert render.format_money(-2500, "USD", "en") == "-$25.00"
    assert render.format_money(1000, "CHF", "de") == "10.00 CHF"


def test_dates_and_languages():
    assert render.format_date(dt.date(2026, 12, 25), "en") == "Friday, 25 December 2026"
    assert render.format_date(dt.date(2026, 12, 25), "pt") == "sexta-feira, 25 de dezembro de 2026"
    assert templates.normalize_language("pt-BR") == "pt"
    assert templates.normalize_language(" PT ") == "pt"
    assert templates.normalize_language(None) == "en"
    assert templates.normalize_language("x") == "en"


# --- e-mail and SMS building blocks ----------------------------------------------------------


def _mail(**kw) -> email.OutgoingEmail:
    base = {"communication_id": "0190-abc", "to": "ana@example.com", "subject": "Hi",
            "text": "Hello", "html": "<p>Hello</p>", "from_name": "Lisbon Walks",
            "date": dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC),
            "attachments": [email.Attachment("invoice-1.pdf", "application/pdf",
                                             b"%PDF-1.7")]}  # fmt: skip
    return email.OutgoingEmail(**{**base, **kw})


def test_a_message_carries_its_communication_id_and_attachments():
    msg = email.build(_mail(), "bookings@lisbonwalks.example")
    assert msg["Message-ID"] == "<0190-abc@tos>"
    assert msg["From"] == "Lisbon Walks <bookings@lisbonwalks.example>"
    parts = {p.get_content_type(): p for p in msg.walk()}
    assert parts["text/plain"].get_content().strip() == "Hello"
    assert parts["text/html"].get_content().strip() == "<p>Hello</p>"
    pdf = parts["application/pdf"]
    assert pdf.get_filename() == "invoice-1.pdf" and pdf.get_content() == b"%PDF-1.7"


@pytest.mark.parametrize("to", ["", "ana", "ana@", "ana@example", "a b@example.com",
                                "x@example.com\r\nBcc: y@example.com"])  # fmt: skip
def test_an_invalid_address_fails_permanently(to):
    with pytest.raises(email.PermanentFailure):
        email.build(_mail(to=to), "from@example.com")


def test_the_file_sink_rewrites_instead_of_duplicating(tmp_path):
    sink = email.FileSink(tmp_path / "mail")
    assert sink.send(_mail()) == "<0190-abc@tos>"
    assert sink.send(_mail(subject="Hi again")) == "<0190-abc@tos>"
    files = list((tmp_path / "mail").iterdir())
    assert [f.name for f in files] == ["0190-abc.eml"]
    parsed = stdlib_email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert parsed["Message-ID"] == "<0190-abc@tos>" and parsed["Subject"] == "Hi again"


def test_senders_never_show_their_secrets():
    assert "s3cret" not in repr(email.SmtpSender("smtp.example.com", 587, "u", "s3cret"))
    assert "t0ken" not in repr(sms.TwilioSender("AC1", "t0ken", "+15005550006"))


def test_the_embedded_default_is_the_file_sink(monkeypatch, tmp_path):
    for name in ("TOS_SMTP_HOST", "TOS_TWILIO_ACCOUNT_SID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TOS_MAIL_DIR", str(tmp_path))
    assert isinstance(email.sender_for({}), email.FileSink)
    assert isinstance(sms.sender_for({}), sms.SmsFileSink)
    monkeypatch.setenv("TOS_SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("TOS_SMTP_PORT", "2525")
    sender = email.sender_for({})
    assert isinstance(sender, email.SmtpSender) and (sender.host, sender.port) == (
        "smtp.example.com",
        2525,
    )


def test_the_twilio_signature_matches_twilios_documented_example():
    # https://www.twilio.com/docs/usage/security: auth token 12345, this URL and these params.
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675309"), ("Digits", "1234"),
              ("From", "+14158675309"), ("To", "+18005551212")]  # fmt: skip
    expected = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert sms.signature(url, list(reversed(params)), "12345") == expected
    assert sms.valid_signature(["https://other.example/x", url], params, "12345", expected)
    assert not sms.valid_signature([url], params, "54321", expected)
    assert not sms.valid_signature([url + "&baz=3"], params, "12345", expected)
    assert not sms.valid_signature([url], params[:-1], "12345", expected)
    assert not sms.valid_signature([url], params, "12345", "")


def test_a_twilio_sender_refuses_a_number_that_is_not_e164():
    with pytest.raises(email.PermanentFailure):
        sms.TwilioSender("AC1", "token", "+15005550006").send("912 345 678", "hi")
