"""aiosmtpd handlers used by herald-mail's integration tests.

FlakyMailbox behaves like aiosmtpd.handlers.Mailbox (stores accepted mail in a
Maildir) but rejects some recipients so the client's reply-code mapping can be
tested against a real SMTP server:

  tempfail-rcpt@...  -> RCPT answered "451 4.3.0 try later"
  nouser@...         -> RCPT answered "550 5.1.1 no such user"
  tempfail-data@...  -> RCPT accepted, DATA answered "451 4.3.0 try later"
  reject-data@...    -> RCPT accepted, DATA answered "554 5.6.0 message rejected"
"""

from aiosmtpd.handlers import Mailbox


class FlakyMailbox(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local == "tempfail-rcpt":
            return "451 4.3.0 try later"
        if local == "nouser":
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        locals_ = {a.split("@", 1)[0].lower() for a in envelope.rcpt_tos}
        if "tempfail-data" in locals_:
            return "451 4.3.0 try later"
        if "reject-data" in locals_:
            return "554 5.6.0 message rejected"
        return await super().handle_DATA(server, session, envelope)
