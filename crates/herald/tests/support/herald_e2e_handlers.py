"""aiosmtpd handlers for Herald's end-to-end tests (PYTHONPATH=tests/support)."""

import asyncio

from aiosmtpd.handlers import Mailbox


class SlowMailbox(Mailbox):
    """A Maildir that takes 0.3 s to accept each message, so a shutdown
    lands while deliveries are in flight."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.3)
        return await super().handle_DATA(server, session, envelope)
