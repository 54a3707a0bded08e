"""Human-readable (Markdown) table of a `motionbridge bench` result."""

from __future__ import annotations


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return f"{value:g}" if isinstance(value, float) else str(value)


def table(result: dict) -> str:
    lines = [
        f"# motionbridge bench — {result['device']} — {result['date']}",
        "",
        f"torch {result['torch']}, {result['steps']} Euler steps, CFG {result['cfg']}, weights: {result['weights']}.",
        "",
    ]
    for name, m in result["models"].items():
        ref = m.get("reference_fp32", {})
        lines += [f"## {name} ({m.get('params_dit', 0) / 1e6:.1f} M DiT parameters)", ""]
        lines += [f"- float32 reference (360 frames, 128 text rows): {_fmt(ref)}"]
        lines += [f"- text encoding ms (1 prompt): {_fmt(m.get('text_encode_ms'))}"]
        for key in ("speedup_latency_5s", "speedup_throughput", "build_s"):
            if key in m:
                lines.append(f"- {key}: {_fmt(m[key])}")
        lines += ["", "| mode | latency ms, text cached | latency ms, with text | peak VRAM GiB | latent max abs dev | joints max dev cm | start s |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for mode, r in m.get("modes", {}).items():
            dev = r.get("deviation_vs_fp32_reference", {})
            lines.append(
                f"| {mode} | {_fmt(r.get('latency_ms_text_cached'))} | {_fmt(r.get('latency_ms_with_text'))} | {_fmt(r.get('peak_vram_gib'))} "
                f"| {_fmt(dev.get('latent_max_abs'))} | {_fmt(dev.get('joints_max_abs_cm'))} | {_fmt(r.get('engine_start_s'))} |"
            )
        lv = m.get("low_vram") or {}
        for text, r in lv.get("text", {}).items():  # bench/low_vram.py: one row per way of keeping Qwen3
            lines.append(
                f"| low-VRAM ({lv.get('mode')}, Qwen {text}) | {_fmt(r.get('latency_ms_text_cached'))} | {_fmt(r.get('latency_ms_with_text'))} "
                f"| {_fmt(r.get('peak_vram_gib'))} | - | - | {_fmt(r.get('engine_start_s'))} |"
            )
        for text, r in lv.get("text", {}).items():
            lines.append(f"- low-VRAM Qwen {text}: text encoding {_fmt(r.get('text_encode_ms_new_prompt'))} ms per new prompt, "
                         f"features vs bf16 {_fmt(r.get('feature_deviation_vs_bf16'))}")
        for mode, r in m.get("modes", {}).items():
            if "throughput" in r:
                lines += ["",
                          f"Throughput ({mode}), batch -> clips/min (ms/clip): "
                          + ", ".join(f"{b}: {v['clips_per_min']:g} ({v['ms_per_clip']:g})" for b, v in r["throughput"].items())]
                lines.append(f"Decode ({mode}): {_fmt(r.get('decode'))}")
        lines.append("")
    return "\n".join(lines)


def stage_ms(timings: dict) -> dict[str, float]:
    """A take's engine timings (seconds: text_s, sample_s, capture_s, decode_s) as milliseconds
    by stage name (text, sample, ...), rounded to 0.1 ms."""
    return {name.removesuffix("_s"): round(1000 * float(sec), 1) for name, sec in timings.items() if name.endswith("_s")}
