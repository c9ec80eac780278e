"""A script that leaves a local model loaded exits cleanly: the model is freed before interpreter shutdown.

llama-cpp-python frees its model in ``Llama.__del__``; run during shutdown, after the library's module was torn
down, that prints "Exception ignored in: <function Llama.__del__ …> … 'NoneType' object is not callable".
"""
import gc
import importlib.util
import subprocess
import sys
import textwrap

import pytest

from afirs_dspy.lm.llama_engine import LlamaEngine
from afirs_dspy.lm.model_files import GgufFile
from test_lm_llama_engine import FakeLlama, FakeRuntime, json_reply

SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path

    import dspy
    from afirs_dspy.lm import GgufFile, LlamaEngine

    class Llama:
        def close(self):
            print("freed", flush=True)

    class Runtime:
        def load(self, path, settings):
            return Llama()

    engine = LlamaEngine(GgufFile(Path(sys.argv[1])), runtime=Runtime())
    lm = dspy.LM("local/model", engine=engine)  # as a user's script holds it: to the end
    engine.load()
    if sys.argv[2] == "close":
        engine.close()
""")


def run_script(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("ending", ["left-open", "close"])
def test_a_loaded_model_is_freed_once_before_shutdown(tmp_path, ending):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    done = run_script(SCRIPT, str(model), ending)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout == "freed\n"


def test_an_engine_dropped_without_close_frees_its_model(tmp_path):
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    llama = FakeLlama(json_reply)
    engine = LlamaEngine(GgufFile(tmp_path / "m.gguf"), runtime=FakeRuntime(llama))
    engine.load()
    del engine
    gc.collect()
    assert llama.closed


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                    reason='llama-cpp-python is not installed (pip install -e ".[local]")')
def test_a_script_holding_the_embedded_model_exits_without_a_word_on_stderr():
    code = textwrap.dedent("""
        import dspy
        from afirs_dspy.lm import LocalModelMissing, make_lm

        try:
            lm = make_lm(None)
        except LocalModelMissing:
            raise SystemExit(3)
        lm.engine.load()  # the README's example, short of a turn: the model stays loaded to the end
    """)
    done = run_script(code)
    if done.returncode == 3:
        pytest.skip("the embedded model is not installed")
    assert done.returncode == 0 and done.stderr == ""
