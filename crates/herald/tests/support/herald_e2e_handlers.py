"""aiosmtpd handlers for Herald's end-to-end tests (PYTHONPATH=tests/support)."""

import asyncio
import os

from aiosmtpd.handlers import Mailbox


class SlowMailbox(Mailbox):
    """A Maildir that takes 0.3 s to accept each message, so a shutdown
    lands while deliveries are in flight."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.3)
        return await super().handle_DATA(server, session, envelope)


def _message_id(content):
    """The Message-ID header of raw message bytes, without the brackets."""
    head = content.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    for line in head.splitlines():
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"message-id":
            return value.strip().strip(b"<>").decode("ascii", "replace")
    return "-"


class Recorder:
    """Accepts everything and appends one line per accepted message,
    `<message-id>\\t<recipient>\\n`, to a file: unlike a Maildir (one file
    per message) it keeps up with tens of thousands of messages, and
    duplicates show as repeated Message-IDs. Each line is written and
    flushed before the 250 reply, so what the client was told was accepted
    is in the file."""

    def __init__(self, path):
        self.file = open(path, "ab", buffering=0)

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error("Recorder needs the record file path")
        return cls(args[0])

    def record(self, envelope):
        mid = _message_id(envelope.original_content or b"")
        lines = b"".join(
            f"{mid}\t{rcpt}\n".encode() for rcpt in envelope.rcpt_tos
        )
        self.file.write(lines)

    async def handle_DATA(self, server, session, envelope):
        self.record(envelope)
        return "250 2.0.0 OK"


class Scripted(Recorder):
    """A Recorder that misbehaves by recipient local part:

    - `flaky…`: its first attempts are refused with the replies listed in
      HERALD_E2E_FLAKY (comma separated `CODE@STAGE`, STAGE RCPT or DATA,
      e.g. `451@RCPT,454@DATA,421@RCPT`); a 421 also closes the
      connection, as a server going down does. Then it is accepted.
    - `unknown…`: `550 5.1.1 user unknown` at RCPT TO, every time.
    - `drop…`: on its first attempt the message is read (and recorded) in
      full, then the connection is cut before the final reply to DATA;
      later attempts are accepted.

    Every attempt is logged to `<record file>.attempts` as
    `<recipient>\\t<what happened>`.
    """

    def __init__(self, path):
        super().__init__(path)
        self.log = open(path + ".attempts", "ab", buffering=0)
        plan = os.environ.get("HERALD_E2E_FLAKY", "")
        self.plan = [p.split("@") for p in plan.split(",") if p]
        self.tries = {}
        self.dropped = set()

    def note(self, rcpt, what):
        self.log.write(f"{rcpt}\t{what}\n".encode())

    def refuse(self, server, code, stage):
        text = {
            "421": "421 4.3.2 service shutting down",
            "451": "451 4.3.0 local error, try later",
            "454": "454 4.7.0 temporary failure, try later",
        }.get(code, f"{code} 4.0.0 try later")
        if code == "421":
            # After the reply is written: the server goes away.
            asyncio.get_running_loop().call_later(0.05, server.transport.close)
        return text

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if local.startswith("unknown"):
            self.note(address, "550 at RCPT")
            return "550 5.1.1 <%s>: user unknown" % address
        if local.startswith("flaky"):
            n = self.tries.get(address, 0)
            self.tries[address] = n + 1
            if n < len(self.plan):
                code, stage = self.plan[n]
                if stage == "RCPT":
                    self.note(address, f"{code} at RCPT")
                    return self.refuse(server, code, stage)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            local = rcpt.split("@", 1)[0]
            if local.startswith("drop") and rcpt not in self.dropped:
                self.dropped.add(rcpt)
                self.record(envelope)
                self.note(rcpt, "dropped after DATA")
                server.transport.abort()
                # Never answer: the connection is gone.
                await asyncio.Event().wait()
            if local.startswith("flaky"):
                n = self.tries[rcpt] - 1
                if n < len(self.plan) and self.plan[n][1] == "DATA":
                    code = self.plan[n][0]
                    self.note(rcpt, f"{code} at DATA")
                    return self.refuse(server, code, "DATA")
        self.record(envelope)
        for rcpt in envelope.rcpt_tos:
            self.note(rcpt, "accepted")
        return "250 2.0.0 OK"
