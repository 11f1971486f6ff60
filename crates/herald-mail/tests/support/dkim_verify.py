"""Verifies the DKIM signature of the message on stdin with dkimpy.

    python3 dkim_verify.py "v=DKIM1; k=rsa; p=..." < message.eml

The TXT record given on the command line answers every DNS query, so no
network is used. Exit status: 0 valid, 1 invalid, 3 dkimpy (or PyNaCl, for
Ed25519) missing. dkimpy's reasons are logged to stderr.
"""

import logging
import sys

try:
    import dkim
    import nacl  # noqa: F401  (dkimpy needs it for ed25519-sha256)
except ImportError as e:
    print(f"dkimpy/pynacl missing: {e}; run scripts/install-test-deps.sh", file=sys.stderr)
    sys.exit(3)

logging.basicConfig(stream=sys.stderr, level=logging.DEBUG)
record = sys.argv[1].encode()
queried = []


def dnsfunc(name, timeout=5):
    queried.append(name)
    return record


message = sys.stdin.buffer.read()
ok = dkim.verify(message, logger=logging.getLogger("dkim"), dnsfunc=dnsfunc)
print(f"queried {queried}", file=sys.stderr)
print("valid" if ok else "invalid")
sys.exit(0 if ok else 1)
