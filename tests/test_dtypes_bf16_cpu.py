"""cpu_bf16_warning: emulated bf16 is named from the CPU flags, native bf16 is silent."""

from mlir_bench.dtypes import cpu_bf16_warning

AVX2 = "flags\t\t: fpu vme sse sse2 avx avx2 fma bmi2"


def test_avx2_only_cpu_warns_and_names_the_flags() -> None:
    note = cpu_bf16_warning(AVX2)
    assert note is not None
    assert "avx512_bf16" in note and "float32" in note


def test_native_bf16_cpus_are_silent() -> None:
    assert cpu_bf16_warning(AVX2 + " avx512f avx512_bf16") is None
    assert cpu_bf16_warning(AVX2 + " amx_tile amx_bf16") is None


def test_avx512_without_bf16_still_warns() -> None:
    assert cpu_bf16_warning(AVX2 + " avx512f avx512bw avx512_vnni") is not None


def test_run_warns_once_on_an_emulated_bf16_cpu(monkeypatch, capsys) -> None:
    """`run --dtype bf16` on the CPU names the slowdown in one line (before any work; here the task is unknown)."""
    import sys

    from mlir_bench import cli, dtypes

    monkeypatch.setattr(dtypes, "cpu_bf16_warning", lambda flags=None: "NO-NATIVE-BF16")
    monkeypatch.setattr(sys, "argv", ["mlir-bench", "run", "--model", "bm25", "-t", "no-such-task", "--dtype", "bf16",
                                      "--device", "cpu", "--no-cache"])
    try:
        cli.main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("warning: --dtype bfloat16: NO-NATIVE-BF16") == 1
    assert "unknown task 'no-such-task'" in err

    monkeypatch.setattr(sys, "argv", ["mlir-bench", "run", "--model", "bm25", "-t", "no-such-task", "--device", "cpu",
                                      "--no-cache"])
    try:
        cli.main()
    except SystemExit:
        pass
    assert "NO-NATIVE-BF16" not in capsys.readouterr().err  # float32 (the default): no warning
