"""Delivery channels, each a small class behind one interface, chosen by configuration."""

from __future__ import annotations

from collections.abc import Collection

from services.outreach.channels.base import Channel, Outcome, Outgoing
from services.outreach.channels.email import MaildirEmail, SmtpEmail
from services.outreach.channels.sms import HttpSms, LogSms
from services.outreach.channels.whatsapp import CloudWhatsApp, LogWhatsApp
from shared.config import Settings


def channel_for(name: str, settings: Settings) -> Channel:
    """The configured provider for a channel, or the embedded file writer under var/."""
    if name == "email":
        if settings.smtp_url:
            return SmtpEmail(settings.smtp_url, settings.mail_from, settings.secret_key)
        return MaildirEmail(settings.home, settings.mail_from, settings.secret_key)
    if name == "sms":
        if settings.sms_url:
            return HttpSms(settings.sms_url, settings.sms_token)
        return LogSms(settings.home)
    if name == "whatsapp":
        if settings.whatsapp_url:
            return CloudWhatsApp(settings.whatsapp_url, settings.whatsapp_token)
        return LogWhatsApp(settings.home)
    raise ValueError(f"unknown channel {name!r}")


def drop_from_sinks(settings: Settings, message_ids: Collection[int]) -> int:
    """Erasure: delete the embedded sinks' copies of these messages (the maildir under
    `home/mail`, the SMS and WhatsApp logs under `home/outbox`); how many went.

    Whatever the configured channels: a sink may hold messages from before a provider was
    configured. A provider's own copies are the provider's (docs/security.md).
    """
    if not message_ids:
        return 0
    dropped = 0
    if (settings.home / "mail").is_dir():
        dropped += MaildirEmail(settings.home, settings.mail_from,
                                settings.secret_key).drop(message_ids)
    for sink in (LogSms(settings.home), LogWhatsApp(settings.home)):
        dropped += sink.drop(message_ids)
    return dropped


__all__ = ["Channel", "Outcome", "Outgoing", "channel_for", "drop_from_sinks"]
