"""Test RTSP server: loops an H.264 Annex-B file over RTSP on 127.0.0.1, without re-encoding.

Run with /usr/bin/python3 (Debian's, which has python3-gi). Prints "PORT <n>" once serving.
  --user U --password P   require authentication: HTTP Basic (default), or Digest with --auth digest
  --auth basic|digest     the method offered and accepted
  --stall-after S         send media for S seconds per client, then hold it (0: accept, never send any;
                          DESCRIBE then gets no answer, as the media never prerolls)
  --shared                one pipeline for every client (many cameras' worth of clients at a fraction of
                          the CPU: benchmarks use it, as real cameras are not on the measured box)
"""

import argparse
import ctypes
import signal
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int, help="0 = pick a free port")
parser.add_argument("file", help="H.264 Annex-B elementary stream")
parser.add_argument("--mount", default="/test")
parser.add_argument("--fps", type=int, default=10)
parser.add_argument("--user")
parser.add_argument("--password")
parser.add_argument("--auth", choices=["basic", "digest"], default="basic")
parser.add_argument("--stall-after", type=float)
parser.add_argument("--shared", action="store_true")
args = parser.parse_args()

try:  # die with the test process even if it is killed hard (Linux)
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
except OSError:
    pass

Gst.init(None)


def pts_from_dts(_pad, info):
    buf = info.get_buffer()  # h264parse times an Annex-B stream with DTS only; rtph264pay wants PTS
    if buf.pts == Gst.CLOCK_TIME_NONE:
        buf.pts = buf.dts
    return Gst.PadProbeReturn.OK


def stall_after(seconds):
    start = []

    def probe(_pad, _info):  # a blocking probe: PASS lets one item through, OK holds the stream (no CPU spin)
        start[:] = start or [time.monotonic()]
        return Gst.PadProbeReturn.OK if time.monotonic() - start[0] >= seconds else Gst.PadProbeReturn.PASS

    return probe


def on_media_configure(_factory, media):
    pay = media.get_element().get_by_name("pay0")
    pay.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, pts_from_dts)
    if args.stall_after is not None:
        mask = Gst.PadProbeType.BLOCK | Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST
        pay.get_static_pad("src").add_probe(mask, stall_after(args.stall_after))


factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    f'( multifilesrc location="{args.file}" loop=true '
    f'caps="video/x-h264,stream-format=byte-stream,framerate={args.fps}/1" '
    "! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )"
)
factory.connect("media-configure", on_media_configure)
factory.set_shared(args.shared)

server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(str(args.port))
if args.user is not None:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", "user")
    if args.auth == "digest":
        auth.add_digest(args.user, args.password or "", token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    else:
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password or ""), token)
    server.set_auth(auth)
    permissions = GstRtspServer.RTSPPermissions()
    permissions.add_permission_for_role("user", "media.factory.access", True)
    permissions.add_permission_for_role("user", "media.factory.construct", True)
    factory.set_permissions(permissions)
server.get_mount_points().add_factory(args.mount, factory)

loop = GLib.MainLoop()
for sig in (signal.SIGTERM, signal.SIGINT):
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
if server.attach(None) == 0:
    sys.exit(f"cannot listen on 127.0.0.1:{args.port}")
print(f"PORT {server.get_bound_port()}", flush=True)
loop.run()
