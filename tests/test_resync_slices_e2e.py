"""Sliced open-orders reads over real sockets: ``GET /data/orders?market=`` through the real
client against the emulator, the user channel's mark from the real streams.

One market is made to count as many (a slice of one, read one by one), so that the
path a 1,000-market controller takes runs here in seconds.
"""

from __future__ import annotations

from live_helpers import BTC, converged, make_controller, our_orders, wait_for

from controller.loop import resync as resync_module


def test_sliced_reads_keep_the_view_requeue_nothing_and_a_user_channel_drop_makes_a_full_read(
    sim, manifests, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(resync_module, "ORDER_MARKETS_PER_RESYNC", 1)
    monkeypatch.setattr(resync_module, "MARKET_READ_WEIGHT", 1)
    monkeypatch.setattr(resync_module, "FULL_ORDER_READ_EVERY", 4)
    controller = make_controller(sim, manifests)
    controller.start()
    resyncer = controller.resyncer
    requeued: list[list[str]] = []
    try:
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes")
        wait_for(lambda: controller._streams is not None and controller._streams.connected, "both channels")
        assert controller.resync()  # the channels' first mark: read in full once
        wait_for(lambda: controller.reconciler.queue.idle(), "the loop to settle")
        original = controller.reconciler.enqueue_markets

        def spy(condition_ids):  # type: ignore[no-untyped-def]
            chosen = list(condition_ids)
            requeued.append(chosen)
            original(chosen)

        controller.reconciler.enqueue_markets = spy  # type: ignore[method-assign]
        reads: list[str | None] = []
        read = controller.venue.open_orders

        def recorded(market=None):  # type: ignore[no-untyped-def]
            reads.append(market)
            return read(market)

        controller.venue.open_orders = recorded  # type: ignore[method-assign]
        for _ in range(resync_module.FULL_ORDER_READ_EVERY):
            assert controller.resync()
        assert BTC in reads, "read by market (?market=)"
        assert None in reads, "and in full within FULL_ORDER_READ_EVERY resyncs"
        ours = sorted(o["id"] for o in our_orders(sim))
        assert ours and sorted(o.id for o in controller.store.open_orders(BTC)) == ours
        assert requeued and all(chosen == [] for chosen in requeued), "nothing changed, nothing requeued"

        # The user channel drops and comes back: what it may have missed is read in full.
        streams = controller._streams
        assert streams is not None
        drops = streams.user.reconnects
        streams.user.reconnect("test: a dropped user channel")
        wait_for(lambda: streams.user.reconnects > drops and streams.user.connected, "the user channel back")
        full = resyncer.full_order_reads
        wait_for(lambda: controller.resync() and resyncer.full_order_reads > full, "a full read after the drop")
        assert sorted(o.id for o in controller.store.open_orders(BTC)) == sorted(o["id"] for o in our_orders(sim))
    finally:
        controller.stop()
