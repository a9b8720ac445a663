"""The protocols of the generative-restorer study (arXiv 2512.15110, ``Zplusdragon/LowLevelBanana/eval``).

One entry per task script (super-resolution has two scripts: full-reference and no-reference),
each in two flavours. Facts were read from the scripts; ``docs/protocols.md`` lists them per task.
"""

from __future__ import annotations

from typing import Any

from . import Bug, MetricSpec, Protocol

STUDY = "lowlevelbanana-2512.15110"
VERSION = 1


def _m(metric: str, label: str = "", **options: Any) -> MetricSpec:
    return MetricSpec(metric, tuple(sorted(options.items())), label or metric)


def _pair(task: str, script: str, reader: str, resize: str, published: tuple[MetricSpec, ...],
          corrected: tuple[MetricSpec, ...] | None = None, bugs: tuple[Bug, ...] = (), **kw: Any) -> list[Protocol]:
    """The ``as-published`` and ``corrected`` protocols of one task."""
    runnable = kw.pop("runnable", None)
    pairing = kw.pop("pairing", "name")
    fixed_pairing = kw.pop("corrected_pairing", "name")
    common: dict[str, Any] = {
        "task": task, "version": VERSION, "script": script, "reader": reader, "resize": resize, "bugs": bugs,
    }
    pub = Protocol(name=f"{STUDY}/{task}/as-published", flavour="as-published", metrics=published,
                   runnable=runnable, pairing=pairing, **common, **kw)
    cor = Protocol(name=f"{STUDY}/{task}/corrected", flavour="corrected", metrics=corrected or published,
                   pairing=fixed_pairing, **common, **kw)
    return [pub, cor]


_PIL = "Pillow, convert('RGB')"
_CV2 = "cv2.imread (BGR), converted to RGB"

_SR = _pair(
    "super_resolution", "super_resolution/PSNR_SSIM_LPIPS_SR.py", "Pillow RGB, to_tensor [0,1]", "torch-bicubic",
    (_m("study_psnr", "PSNR", variant="y-pyiqa"), _m("study_ssim", "SSIM", variant="pyiqa-y"),
     _m("study_lpips", "LPIPS")),
    suffixes=("_SR",),
    notes="pyiqa psnr/ssim with test_y_channel=True (full-range Y); LPIPS-Alex through the weights resolver.",
)
_SR_NR = _pair(
    "super_resolution-nr", "super_resolution/NIQE_MUSIQ_CLIPIQA_SR.py", "pyiqa reads the file (RGB [0,1])", "native",
    (_m("niqe", "NIQE"), _m("musiq", "MUSIQ"), _m("clipiqa", "CLIPIQA")),
    suffixes=("_SR",),
    notes="No-reference on the output at its own size. pyiqa 'niqe' is the MATLAB NIQE (paradigm niqe); "
    "pyiqa 'clipiqa' is CLIP-IQA (paradigm's clipiqa weights are CLIP-IQA+, so that column differs).",
)

_DENOISE_BUG = (
    Bug("psnr_inf_excluded", "PSNR of identical pairs (inf) is left out of the PSNR mean but not of the SSIM mean",
        "the PSNR average is taken over fewer images when an output equals its GT"),
)


def _denoise(task: str, script: str) -> list[Protocol]:
    return _pair(
        task, script, _PIL + ", float32", "pil-lanczos",
        (_m("study_psnr", "PSNR", variant="rgb", identical=float("nan")), _m("study_ssim", "SSIM", variant="skimage")),
        (_m("study_psnr", "PSNR", variant="rgb"), _m("study_ssim", "SSIM", variant="skimage")),
        bugs=_DENOISE_BUG, suffixes=("_dehazed", "_mean"),
        notes="skimage peak_signal_noise_ratio / structural_similarity(channel_axis=-1, data_range=255); "
        "the script's hand-written calculate_ssim is never called.",
    )


_DEBLUR_METRICS = (_m("study_psnr", "PSNR", variant="rgb", identical=100.0), _m("study_ssim", "SSIM", variant="gauss-zero", float32=True))
_MOTION = _pair(
    "motion_deblurring", "motion_deblurring/metrics_batch.py, metrics_gopro.py", _PIL, "pil-bilinear", _DEBLUR_METRICS,
    notes="GoPro pairs results/<scene>/blur/<f> with target/<scene>/sharp/<f>; the .md names metrics_dpdd.py "
    "for GoPro, but the folder holds metrics_gopro.py (documentation only).",
)
_DEFOCUS = _pair(
    "defocus_deblurring", "defocus_deblurring/metrics_batch.py, metrics_dpdd.py", _PIL, "pil-bilinear", _DEBLUR_METRICS,
    bugs=(Bug("pairing_sorted_index", "DPDD: outputs and targets are sorted by the last number in their names and "
              "paired by position", "one missing or extra file shifts every later pair (wrong GT for each)"),),
    pairing="sorted-last-number", corrected_pairing="name",
)
_DEHAZE = _pair(
    "dehazing", "dehazing/dehazing.py", _CV2, "native",
    (_m("study_niqe", "NIQE"), _m("study_brisque", "BRISQUE", sign=-1.0), _m("nima", "NIMA")),
    (_m("study_niqe", "NIQE"), _m("study_brisque", "BRISQUE", sign=1.0), _m("nima", "NIMA")),
    bugs=(Bug("brisque_negated", "BRISQUE is multiplied by -1", "every BRISQUE value has the wrong sign"),),
    needs=("input",),
    notes="No reference: every file of PRED_DIR is scored (paradigm pairs outputs with --input). NIMA is pyiqa "
    "'nima' (Inception-ResNet-v2, AVA); paradigm's nima weights are VGG16-AVA, so that column differs.",
)
_DESHADOW = _pair(
    "deshadowing", "deshadowing/deshadow.py", "cv2.imread (BGR, both images)", "cv2-cubic",
    (_m("study_psnr", "PSNR", variant="rgb-basicsr"), _m("study_ssim", "SSIM", variant="basicsr-3d", float32=True)),
    (_m("study_psnr", "PSNR", variant="rgb"), _m("study_ssim", "SSIM", variant="basicsr-3d", float32=True)),
    bugs=(
        Bug("name_rsplit", "names are cut at their last underscore (stem.rsplit('_', 1)[0]) on both sides",
            "GT files that differ only after their last '_' collide (the later one wins), so outputs are "
            "scored against the wrong GT"),
        Bug("cuda_only", "BasicSR's _ssim_3d calls .cuda() unconditionally", "none (the script fails without a GPU)",
            reproduced=False),
        Bug("peak_from_output", "BasicSR PSNR uses peak 1 when the output's maximum is <= 1",
            "an almost black output (all values 0 or 1) gets a PSNR ~48 dB too low"),
    ),
    pairing="rsplit-underscore", corrected_pairing="name",
)
_FLARE = _pair(
    "flare_removal", "flare_removal/evaluate.py", "skimage.io.imread (RGB uint8)", "skimage-aa-uint8",
    (_m("study_psnr", "PSNR", variant="rgb"), _m("study_ssim", "SSIM", variant="skimage"), _m("study_lpips", "LPIPS")),
    bugs=(
        Bug("scores_inputs", "the input (flared) folder is scored instead of the outputs folder",
            "the published numbers are those of the degraded inputs, not of the method"),
        Bug("pairing_sorted_index", "GT and scored files are paired by their position in sorted order",
            "any missing file shifts every later pair"),
    ),
    pairing="sorted-inputs", corrected_pairing="name",
)
_HDR = _pair(
    "hdr_imaging", "hdr_imaging/hdr_evl.py", _CV2, "cv2-linear",
    (_m("study_psnr", "PSNR", variant="rgb"), _m("study_ssim", "SSIM", variant="skimage"),
     _m("study_lpips", "LPIPS", unnormalised=True), _m("study_delta_e94", "DeltaE")),
    (_m("study_psnr", "PSNR", variant="rgb"), _m("study_ssim", "SSIM", variant="skimage"),
     _m("study_lpips", "LPIPS", unnormalised=False), _m("study_delta_e94", "DeltaE")),
    bugs=(Bug("lpips_unnormalised", "LPIPS gets [0,1] tensors without normalize=True (lpips expects [-1,1])",
              "LPIPS values are computed on wrongly scaled inputs"),),
    notes="The script prints the 10 best images per dataset by PSNR/50 + SSIM - LPIPS - DeltaE/100, not means.",
)
_IVIF_NR = tuple(_m(f"study_fusion_{k}", k.upper()) for k in ("en", "sd", "sf", "ag"))
_IVIF = _pair(
    "infrared_visible_fusion", "infrared_visible_fusion/metric_ivif.py", "cv2.imread(path, 0) (grey)", "none",
    _IVIF_NR + (_m("study_fusion_scd", "SCD"), _m("study_fusion_vif", "VIF")),
    bugs=(Bug("roadscene_path", "RoadScene's fused folder is spelled 'IInfrared_Visible_Fusion'",
              "the RoadScene row is silently missing (no effect on the other datasets)", reproduced=False),),
    suffixes=("_fusion",), needs=("input", "input2"), decode="cv2-grey",
    notes="Sources: --input IR --input2 VIS; fused files X_fusion.png pair with X.png (RoadScene: X.jpg).",
)
_MFIF_PUB = (_m("study_fusion_nmi", "NMI", histc_float32=True),) + tuple(
    _m(f"study_fusion_{k}", k.upper()) for k in ("en", "ag", "sf")) + (
    _m("study_fusion_qy", "QY"), _m("study_fusion_qcb", "QCB"))
_MFIF_COR = (_m("study_fusion_nmi", "NMI", histc_float32=False),) + _MFIF_PUB[1:]
_MFIF = _pair(
    "multi_focus_fusion", "multi_focus_fusion/metric_mfif.py", "cv2.imread(path, 0) (grey; JPEG sources)", "none",
    _MFIF_PUB, _MFIF_COR,
    bugs=(
        Bug("glob_strip_mismatch", "globs '*-Fused-SESF.png' but strips '_fusion.jpg' to find the sources",
            "no source is ever found: every printed value is nan"),
        Bug("qy_dtype_mix", "Q_Y convolves float64 images with a float32 window", "Q_Y raises once pairing works"),
        Bug("histc_float32", "the 65 536-bin joint histogram uses float32 torch.histc",
            "value 65 408 (A = 255, F = 128) lands in the next bin: NMI changes slightly on saturated sources"),
    ),
    suffixes=("-Fused-SESF",), needs=("input", "input2"), decode="cv2-grey",
    runnable="as published every value is nan (the sources are never found) and, once they are, Q_Y raises a "
    "dtype error; use the corrected flavour (its NMI keeps histc_float32=False)",
    notes="cv2.imread(path, 0) decodes the JPEG sources to their own Y plane (reader cv2-grey).",
)
_REFLECT = _pair(
    "reflection_removal", "reflection_removal/eval.py", _PIL + ", uint8", "pil-lanczos",
    (_m("study_psnr", "PSNR", variant="rgb-per-channel"), _m("study_ssim", "SSIM", variant="skimage"),
     _m("study_lpips", "LPIPS"), _m("study_ms_ssim", "MS-SSIM")),
    suffixes=("_dehazed", "_output", "_result"),
    notes="SSIM per channel on float32 arrays equals skimage's channel_axis mean; if several outputs share a "
    "core name the first in os.listdir order wins (file-system dependent).",
)
_UW = _pair(
    "underwater_enhancement", "underwater_enhancement/uie_evl_withoutgt.py", "cv2.imread (BGR, kept as BGR)",
    "cv2-cubic",
    (_m("study_uiqm", "UIQM", bgr=True), _m("study_uciqe", "UCIQE")),
    (_m("study_uiqm", "UIQM", bgr=False), _m("study_uciqe", "UCIQE")),
    bugs=(Bug("bgr_as_rgb", "UIQM indexes channel 0 of the BGR array as red",
              "UICM uses B-G and (B+G)/2-R, UISM weights 0.299 on blue and 0.114 on red"),),
    notes="Outputs are resized to the size of the 'GT' folder's image (another method's output) first.",
)
_DERAIN = _pair(
    "deraining", "deraining/eval.m (MATLAB)", "MATLAB imread, rgb2ycbcr on uint8 (Y rounded)", "none",
    (_m("study_psnr", "PSNR", variant="y-matlab-uint8"), _m("study_ssim", "SSIM", variant="matlab-y-uint8")),
    notes="MATLAB's JPEG decoder may differ from Pillow's by one level on some pixels.",
)

PROTOCOLS: tuple[Protocol, ...] = tuple(
    _SR + _SR_NR + _denoise("denoising", "denoising/eval.py")
    + _denoise("low_light_enhance", "low_light_enhance/eval.py") + _MOTION + _DEFOCUS + _DEHAZE + _DESHADOW
    + _FLARE + _HDR + _IVIF + _MFIF + _REFLECT + _UW + _DERAIN
)
