"""The light layer: everything needed to speak to a MotionBridge daemon, on both ends.

It is named for what it is, the daemon's protocol: the wire format (frames.py), the request
limits (limits.py), the take payload in both directions (payload.py), the server <-> worker
link commands (link.py) and the client (client.py, client_io.py). The daemon, the batch
runner, remote generation and the DCC plugins import it from here, and the DCC installers
vendor this folder whole (with rigs/, whose Clip the payload builds).

It imports the standard library, msgpack, numpy, pyzmq and motionbridge.rigs only: no torch,
no DCC module, nothing else of ours (tests/test_import_rules.py).
"""
