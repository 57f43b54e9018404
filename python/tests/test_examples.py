"""The Python examples (examples/python/*.py) run end to end in their quick mode (SEQNET_EXAMPLE_QUICK=1:
a few seconds each) and print the final metrics they reach. Each needs a real data set; it is skipped when
that data set is not under $SEQNET_DATA_DIR or ../shared/data (relative to the repository's root)."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "python"
DATA_DIR = pathlib.Path(os.environ.get("SEQNET_DATA_DIR") or REPO.parent / "shared" / "data").resolve()

# Any one of these files makes the data set available to seqnet's loaders (docs/data.md).
DATASETS = {
    "imdb": ["imdb/imdb.npz", "imdb/keras_sequences/imdb_train.txt.gz", "imdb/aclImdb_v1_train_test.tar.gz"],
    "mnist": ["mnist/mnist.npz", "mnist/train-images-idx3-ubyte.gz"],
    "beijing_pm25": ["beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv"],
}

# script, data set, the final-metric line it prints
CASES = [
    ("imdb_lstm_notes.py", "imdb", r"test loss \d+\.\d+, test accuracy \d\.\d+"),
    ("weather_gru_generator.py", "beijing_pm25",
     r"GRU\(32\): best val MAE \d\.\d+ \(\d+\.\d+ degrees C\) at epoch \d+"),
    ("hybrid_functional_notes.py", "beijing_pm25",
     r"hybrid: best val MAE \d\.\d+ \(\d+\.\d+ degrees C\) at epoch \d+, test MAE after the last epoch"),
    ("imdb_conv1d_notes.py", "imdb", r"val_acc after epoch 1: \d\.\d+ \(the notes: 0\.8754\)"),
    ("mnist_rows_lstm.py", "mnist", r"test loss \d+\.\d+, test accuracy \d\.\d+"),
]


@pytest.mark.parametrize("script,dataset,final_line", CASES, ids=[c[0][:-3] for c in CASES])
def test_example_runs_in_quick_mode(script, dataset, final_line, tmp_path):
    if not any((DATA_DIR / f).is_file() for f in DATASETS[dataset]):
        pytest.skip(f"{script}: the {dataset} data set is not under {DATA_DIR} (set SEQNET_DATA_DIR to the folder "
                    f"holding {dataset}/)")
    env = dict(os.environ, SEQNET_EXAMPLE_QUICK="1", SEQNET_DATA_DIR=str(DATA_DIR), MPLBACKEND="Agg")
    run = subprocess.run([sys.executable, str(EXAMPLES / script)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"{script} exited with {run.returncode}:\n{output[-4000:]}"
    assert re.search(final_line, run.stdout), f"{script} did not print /{final_line}/:\n{output[-4000:]}"
    assert not any(tmp_path.iterdir()), f"{script} left files in its working folder: {sorted(tmp_path.iterdir())}"
