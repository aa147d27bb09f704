"""The run engine: the one place that makes a Run and drives it.

A run is an object of its own, not a side effect of the connection that
asked for it. The top layer (the playground's websocket, the gateway, later
compare and batches) only ever does three things here:

    spec = specs.from_page(user, message)          # or specs.for_gateway(...)
    live = await engine.start(spec, subscriber)    # the Run, driven in a task
    await engine.subscribe(user, run_uuid, subscriber, after=seq)   # watch
    await engine.stop(user, run_uuid)              # from any process

- engine.py: start, drive (adapter events -> Assembly -> subscribers),
  checkpoint, stop, grace after the last subscriber left, finish.
- hub.py: the same runs seen from other processes, over the channel layer.
- keeper.py: leases, so that runs left by a dead process become interrupted.
- specs.py: what a page message or a gateway call asks for, validated.
- protocol.py: events as the dicts the websocket and the channel layer carry.
"""
