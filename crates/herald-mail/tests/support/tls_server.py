"""A TLS / AUTH capable aiosmtpd for herald-mail's SMTP TLS tests.

    python3 tls_server.py PORT MAILDIR LOGFILE --mode plain|starttls|implicit
        [--cert CERT --key KEY] [--require-starttls]
        [--auth USER:PASSWORD] [--mechanisms PLAIN,LOGIN]

Accepted mail goes to MAILDIR (aiosmtpd's Mailbox). Every AUTH attempt is
appended to LOGFILE as "MECHANISM ok|fail". Runs until killed.
"""

import argparse
import signal
import ssl

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

ALL_MECHANISMS = {"PLAIN", "LOGIN"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("maildir")
    p.add_argument("logfile")
    p.add_argument("--mode", choices=["plain", "starttls", "implicit"], default="plain")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--require-starttls", action="store_true")
    p.add_argument("--auth")
    p.add_argument("--mechanisms", default="PLAIN,LOGIN")
    args = p.parse_args()

    context = None
    if args.mode != "plain":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    smtp = {}
    if args.mode == "starttls":
        smtp["tls_context"] = context
        smtp["require_starttls"] = args.require_starttls
    if args.auth:
        user, password = args.auth.split(":", 1)
        allowed = set(args.mechanisms.split(","))

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login == user.encode()
                and auth_data.password == password.encode()
            )
            with open(args.logfile, "a") as log:
                log.write(f"{mechanism} {'ok' if ok else 'fail'}\n")
            # handled=False: aiosmtpd then sends the 535 itself.
            return AuthResult(success=ok, handled=False)

        smtp["authenticator"] = authenticator
        smtp["auth_required"] = True
        # AUTH only after STARTTLS in "starttls" mode; aiosmtpd does not see
        # implicit TLS (the controller wraps the socket), so no check there.
        smtp["auth_require_tls"] = args.mode == "starttls"
        smtp["auth_exclude_mechanism"] = sorted(ALL_MECHANISMS - allowed)

    controller = Controller(
        Mailbox(args.maildir),
        hostname="127.0.0.1",
        port=args.port,
        ssl_context=context if args.mode == "implicit" else None,
        server_hostname="127.0.0.1",
        **smtp,
    )
    controller.start()
    try:
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
