"""``bandctl halt`` and ``bandctl resume``: ask a running controller, over its HTTP port.

Exit codes: 0 when the controller confirmed (for ``halt``: no order of the halted
manifests is left on the exchange), 1 when it answered but could not confirm in time,
2 when it could not be reached or refused. The bearer token for a controller bound to a
non-loopback address comes from ``BANDCTL_CONTROL_TOKEN``. Printing only.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

from controller.ops.status import status_url


def post_control(url: str, action: str, name: str | None, *, timeout: float = 15.0) -> int:
    base = status_url(url).rsplit("/status", 1)[0]
    query = urllib.parse.urlencode({"all": "1"} if name is None else {"name": name})
    request = urllib.request.Request(f"{base}/{action}?{query}", data=b"", method="POST")
    token = os.environ.get("BANDCTL_CONTROL_TOKEN")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # http(s) only: status_url checks
            document = json.loads(response.read(65536) or b"{}")
            code = response.status
    except urllib.error.HTTPError as exc:
        body = exc.read(2000).decode("utf-8", "replace").strip()
        if exc.code == 504:
            print(f"error: the exchange has not confirmed every cancel yet: {body}", file=sys.stderr)
            return 1
        print(f"error: {action}: HTTP {exc.code}: {body[:300]}", file=sys.stderr)
        return 2
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"error: cannot reach {base}: {getattr(exc, 'reason', exc)}", file=sys.stderr)
        return 2
    who = "every manifest" if name is None else name
    if action == "halt":
        print(f"{who}: halted, {document.get('openOrders', '?')} order(s) left; `bandctl resume` to quote again")
    else:
        lifted = document.get("resumed") or []
        print(f"{who}: resumed ({', '.join(lifted) if lifted else 'nothing was held'})")
    return 0 if code == 200 else 1
