"""The monitor survives the port vanishing (board unplugged or reset) and comes back to it by itself."""

import os
import threading
import time


def test_monitor_reconnects_when_the_port_disappears_and_returns(tiny_run, tmp_path):
    from tinykws.board.monitor import monitor
    from tinykws.board.sim import open_sim

    link = tmp_path / "ttyKWS"  # a stable name, like /dev/serial/by-id/..., pointing at whichever pty is live
    log = tmp_path / "board.log"
    first = open_sim(tiny_run, [], realtime=True).start()
    os.symlink(first.port, link)
    result = {}
    t = threading.Thread(target=lambda: result.update(state=monitor(str(link), log_path=log, duration_s=7)))
    t.start()
    try:
        time.sleep(2.0)
        first.close()  # the port goes away under the monitor
        time.sleep(1.5)
        second = open_sim(tiny_run, [], realtime=True).start()
        os.unlink(link)
        os.symlink(second.port, link)
        t.join(timeout=30)
    finally:
        first.close()
        if "second" in locals():
            second.close()
    state = result["state"]
    assert state.disconnects >= 1
    text = log.read_text()
    assert "disconnected" in text and "reconnected" in text
    # Lines from the second board arrived after the reconnect (its answer to `info` at least).
    after = text[text.index("reconnected") :]
    assert "INFO proto=1 board=sim" in after and "INF t_ms=" in after
