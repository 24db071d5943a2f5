"""Delivery channels, each a small class behind one interface, chosen by configuration."""

from __future__ import annotations

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


__all__ = ["Channel", "Outcome", "Outgoing", "channel_for"]
