"""Training under tf.distribute: two logical CPU devices stand in for two GPUs."""

import json
import subprocess
import sys
import textwrap


def test_mirrored_strategy_over_two_logical_devices(tone_dataset, tmp_path):
    code = textwrap.dedent(f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from tinykws.pipeline import TrainConfig, train
        cfg = TrainConfig(dataset={str(tone_dataset)!r}, words=["up", "down"], arch="tiny-conv", epochs=3, seed=0,
                          batch_size=16, strategy="mirrored", name="mirror", stream_minutes=0.5, teacher=False)
        lines = []
        run = train(cfg, {str(tmp_path)!r}, log=lines.append)
        print([l for l in lines if "replica" in l][0])
        print("RUN", run)
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "2 replica(s)" in p.stdout
    run = p.stdout.split("RUN ")[-1].strip()
    # The replicas train one model: it learns the tone words (chance is 25 %; seed 0 reaches 82 %).
    acc = json.load(open(f"{run}/report.json"))["accuracy"]
    assert acc["int8"] >= 0.6, acc
