"""moto's S3 server with its writes applied one at a time.

moto checks `If-Match` and `If-None-Match` on PUT and DELETE, then writes, as two steps, and its
server answers requests on many threads: two conditional writes racing can both pass the check
(a compare-and-swap counter loses updates; AWS S3 and SeaweedFS apply such a write atomically).
This launcher runs the same server (same arguments as `moto_server`) with a lock around every
request that may change an object (PUT, POST, DELETE), so each conditional write is atomic as on
S3; reads (GET, HEAD) stay concurrent.
"""

import sys
import threading

import moto.server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_WRITES = threading.Lock()
_serve = DomainDispatcherApplication.__call__


def _serialised(self, environ, start_response):
    if environ.get("REQUEST_METHOD") in ("PUT", "POST", "DELETE"):
        with _WRITES:
            # The body is read and the object written inside the lock; the response (small for
            # writes) is materialised before the lock is released.
            return list(_serve(self, environ, start_response))
    return _serve(self, environ, start_response)


DomainDispatcherApplication.__call__ = _serialised
moto.server.main(sys.argv[1:])
