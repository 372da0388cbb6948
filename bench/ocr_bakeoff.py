"""OCR settings bake-off on a suite's image-only pages: CPU seconds per page (process CPU time, not wall: the
machine is shared), the detector's and recogniser's share, lines read, the suite's gold quotes found on those
pages, and the text against a reference run (character error rate).

Each page is OCR'd alone through ``rag.ingest.ocr.ocr_pages`` with one engine (the page cache cleared), after
one warm-up page, with the setting applied to the module's constants and to the engine RapidOCR built:

    python bench/ocr_bakeoff.py --runtime onnxruntime --name ort --save-text /tmp/ocr-ort.json
    python bench/ocr_bakeoff.py --precision f32 --name ov-f32 --ref /tmp/ocr-ort.json
    python bench/ocr_bakeoff.py --name ov-det1280 --det-side 1280 --ref /tmp/ocr-ort.json
    python bench/ocr_bakeoff.py --name ov-skip --skip 10,40 --ref /tmp/ocr-ort.json

(--runtime: onnxruntime or openvino, the default; --precision: OpenVINO's, default rag.ingest.ocr's.)

Prints one JSON line (append it to a file with --out)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def _cer(ref: str, hyp: str) -> float:
    """Character error rate (Levenshtein over characters, whitespace dropped)."""
    a, b = "".join(ref.split()), "".join(hyp.split())
    if not a:
        return float(bool(b))
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1] / len(a)


def main() -> None:
    """Run one setting over the suite's scanned pages and print its figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default=str(ROOT / "eval" / "real_pdfs"))
    ap.add_argument("--name", default="setting")
    ap.add_argument("--det-side", type=int)
    ap.add_argument("--max-side", type=int, help="render no larger than this many pixels (OCR_MAX_SIDE)")
    ap.add_argument("--dpi", type=int)
    ap.add_argument("--rec-batch", type=int)
    ap.add_argument("--box-thresh", type=float)
    ap.add_argument("--unclip", type=float)
    ap.add_argument("--thresh", type=float)
    ap.add_argument("--no-dilation", action="store_true")
    ap.add_argument("--arena", action="store_true", help="onnxruntime CPU memory arena on")
    ap.add_argument("--runtime", choices=["onnxruntime", "openvino"], default="openvino")
    ap.add_argument("--precision", choices=["f32", "bf16"], help="OpenVINO's inference precision")
    ap.add_argument(
        "--skip",
        help="MIN_HEIGHT,MAX_RATIO: boxes lower than this (pixels) or wider than this many heights not recognised",
    )
    ap.add_argument("--quant-rec", help="an int8 copy of the recognition model to run instead")
    ap.add_argument("--pages", help="only these files (comma-separated names)")
    ap.add_argument("--save-text", help="write the text read per page here (a reference for --ref)")
    ap.add_argument("--ref", help="a --save-text file to compare the text with")
    ap.add_argument("--out", help="append the result line to this file")
    args = ap.parse_args()

    import pypdfium2 as pdfium

    from rag.ingest import ocr

    for flag, const in (("det_side", "OCR_DET_SIDE"), ("max_side", "OCR_MAX_SIDE"), ("dpi", "OCR_DPI")):
        if getattr(args, flag):
            setattr(ocr, const, getattr(args, flag))
    if args.arena:
        from rapidocr_onnxruntime.utils import infer_engine

        own_opts = infer_engine.OrtInferSession._init_sess_opts

        def with_arena(config):
            opts = own_opts(config)
            opts.enable_cpu_mem_arena = True
            return opts

        infer_engine.OrtInferSession._init_sess_opts = staticmethod(with_arena)
    ocr.OCR_RUNTIME = args.runtime
    if args.precision:
        ocr.OCR_PRECISION = args.precision
    ocr._engine.cache_clear()
    engine = ocr._engine(0)
    runtime = getattr(engine, "runtime", "onnxruntime")
    if args.skip:
        import numpy as np

        min_h, max_ratio = (float(v) for v in args.skip.split(","))
        own_det = engine.auto_text_det

        def kept(img):
            boxes, took = own_det(img)
            if boxes is None:
                return boxes, took
            keep = []
            for b in boxes:
                w = max(np.linalg.norm(b[0] - b[1]), np.linalg.norm(b[2] - b[3]))
                h = max(np.linalg.norm(b[0] - b[3]), np.linalg.norm(b[1] - b[2]))
                ok = h >= min_h and w / max(h, 1.0) <= max_ratio
                spent["skipped"] += not ok
                if ok:
                    keep.append(b)
            return (np.array(keep) if keep else None), took

        engine.auto_text_det = kept
    if args.quant_rec:
        import onnxruntime as ort

        sess = engine.text_rec.session
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.enable_cpu_mem_arena = bool(args.arena)
        sess.session = ort.InferenceSession(args.quant_rec, sess_options=opts, providers=["CPUExecutionProvider"])
    det, rec = engine.text_det, engine.text_rec
    if args.rec_batch:
        rec.rec_batch_num = args.rec_batch
    post = det.postprocess_op
    for flag, attr in (("box_thresh", "box_thresh"), ("unclip", "unclip_ratio"), ("thresh", "thresh")):
        if getattr(args, flag) is not None:
            setattr(post, attr, getattr(args, flag))
    if args.no_dilation:
        post.dilation_kernel = None
    spent = {"det": 0.0, "rec": 0.0, "lines": 0, "skipped": 0}

    def timed(fn, key):
        def call(*a, **k):
            c = time.thread_time()
            out = fn(*a, **k)
            spent[key] += time.thread_time() - c
            if key == "rec":
                spent["lines"] += len(out[0])
            return out

        return call

    det_call, rec_call = det.__call__, rec.__call__
    engine.text_det = type(
        "D", (), {"__call__": staticmethod(timed(det_call, "det")), "__getattr__": lambda s, n: getattr(det, n)}
    )()
    engine.text_rec = type(
        "R", (), {"__call__": staticmethod(timed(rec_call, "rec")), "__getattr__": lambda s, n: getattr(rec, n)}
    )()

    suite = Path(args.suite)
    gold = [json.loads(ln) for ln in (suite / "gold.jsonl").read_text("utf-8").splitlines() if ln.strip()]
    quotes = [(e["doc"], e["page"], e["quote"]) for g in gold for e in g.get("evidence", [])]
    pdfs = sorted((suite / "corpus").glob("scan_*.pdf"))
    if args.pages:
        pdfs = [p for p in pdfs if p.name in args.pages.split(",")]
    warm = pdfs[-1].read_bytes()
    ocr.ocr_pages(warm, [0], workers=1)  # models loaded and warmed once, outside the figures
    spent.update(det=0.0, rec=0.0, lines=0, skipped=0)
    texts: dict[str, str] = {}
    per_file: dict[str, dict] = {}
    cpu_all, found, total = 0.0, 0, 0
    pages = 0
    for pdf in pdfs:
        data = pdf.read_bytes()
        n = len(pdfium.PdfDocument(data))
        cpu = 0.0
        for i in range(n):
            ocr._read.clear()
            c = time.process_time()
            segs, _ = ocr.ocr_pages(data, [i], workers=1)[i]
            cpu += time.process_time() - c
            texts[f"{pdf.name}:{i + 1}"] = "\n".join(s.text for s in segs)
        mine = [(p, q) for d, p, q in quotes if d == pdf.name]
        norm = {k: "".join(v.split()).casefold() for k, v in texts.items()}
        hit = sum("".join(q.split()).casefold() in norm.get(f"{pdf.name}:{p}", "") for p, q in mine)
        found, total, cpu_all, pages = found + hit, total + len(mine), cpu_all + cpu, pages + n
        per_file[pdf.name] = {"cpu_per_page": round(cpu / n, 2), "gold": f"{hit}/{len(mine)}"}
    res = {
        "name": args.name,
        "runtime": runtime,
        "cpu_per_page": round(cpu_all / pages, 2),
        "det_cpu": round(spent["det"], 1),
        "rec_cpu": round(spent["rec"], 1),
        "lines": spent["lines"],
        "skipped": spent["skipped"],
        "gold": f"{found}/{total}",
        "chars": sum(len("".join(v.split())) for v in texts.values()),
        "files": per_file,
        "load": round(os.getloadavg()[0], 1),
    }
    if args.ref:
        ref = json.loads(Path(args.ref).read_text("utf-8"))
        # per page, weighted by the reference's characters
        chars = {k: len("".join(v.split())) for k, v in ref.items()}
        errs = sum(_cer(ref[k], texts.get(k, "")) * chars[k] for k in ref)
        res["cer_vs_ref"] = round(errs / max(1, sum(chars.values())), 4)
    if args.save_text:
        Path(args.save_text).write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    line = json.dumps(res, ensure_ascii=False)
    print(line)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


if __name__ == "__main__":
    main()
