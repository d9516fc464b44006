"""Which web pages may open a session: the websocket origins the app's servers accept.

A browser sends the address of the page that opens a websocket (its Origin); Bokeh's server
refuses every Origin not on its list. With "*" on that list, a page on any web site, open in
any browser that can reach this machine, could open a session and drive the run. So even on
every interface (`--host 0.0.0.0`) the list names only this machine, under every name and
address a browser in the room may use for it:

- localhost, 127.0.0.1, the host name and its fully qualified name;
- every address the host name resolves to (socket.getaddrinfo);
- every interface's IPv4 address (Linux: the SIOCGIFADDR ioctl, per socket.if_nameindex());
- the address of the interface that routes to the local network (app/lecture.py);

each with the server's port, plus whatever `--allow-origin HOST:PORT` adds (a proxy's name).
IPv6 literals are left out: Bokeh's list takes `name:port` only and refuses "[::1]:5006";
a room reaches the machine by IPv4 address or name. No dependency beyond the standard library.
"""

from __future__ import annotations

import socket
import struct
import sys

EVERY_INTERFACE = ("0.0.0.0", "::", "")
LOOPBACK_NAMES = ("localhost", "127.0.0.1")
SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address


class OriginError(ValueError):
    """An --allow-origin value Bokeh would not take."""


def interface_addresses():
    """The IPv4 address of every interface that has one (Linux; elsewhere an empty set)."""
    found = set()
    if not sys.platform.startswith("linux"):
        return found
    import fcntl

    try:
        interfaces = socket.if_nameindex()
    except OSError:
        return found
    for _, name in interfaces:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                packed = fcntl.ioctl(s.fileno(), SIOCGIFADDR, struct.pack("256s", name[:15].encode()))
            except OSError:  # no IPv4 address on this interface
                continue
            found.add(socket.inet_ntoa(packed[20:24]))  # struct ifreq: the sockaddr_in's address
    return found


def local_names():
    """Every name and IPv4 address this machine answers to (see the module docstring)."""
    from .lecture import lan_address

    names = set(LOOPBACK_NAMES)
    host = socket.gethostname()
    names.update({host, socket.getfqdn()})
    try:
        for *_, sockaddr in socket.getaddrinfo(host, None):
            names.add(sockaddr[0])
    except OSError:  # a host name that does not resolve: its interfaces still do
        pass
    names.update(interface_addresses())
    names.add(lan_address())
    return {n.lower() for n in names if n and ":" not in n}


def check_origin(value):
    """An --allow-origin value as Bokeh's list takes it (`name` or `name:port`), or OriginError."""
    parts = value.split(":")
    if value == "*" or "*" in value:
        raise OriginError("--allow-origin %r: wildcards would let any web site in; name the host:port" % value)
    if not parts[0] or len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
        raise OriginError("--allow-origin %r: expected HOST:PORT, e.g. lecture.example.org:443" % value)
    return value


def origins(host, port, extra=()):
    """Bokeh's websocket_origin list for a server on host:port: never "*"."""
    names = local_names() if host in EVERY_INTERFACE else set(LOOPBACK_NAMES) | {host.lower()}
    allowed = ["%s:%d" % (n, port) for n in sorted(names) if ":" not in n]
    return allowed + [check_origin(e) for e in extra]
