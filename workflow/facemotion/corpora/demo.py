"""Synthetic, procedurally drawn demo corpus shaped like MSP-IMPROV.

Lets a fresh machine run the whole workflow without the licensed corpus: 12 speakers
(F01..F06, M01..M06) in 6 sessions, four emotion classes with the seed corpus's class
shares, activation/valence ratings, and short videos of a drawn, shaded face whose
expression (brows, eyes, mouth) carries the class. Everything else (background,
lighting, position, length, frame rate, codec) is drawn independently of the label.

`plan_demo_corpus` is pure and cheap; `render_demo_corpus` writes the videos in
parallel. Each video depends only on its own plan row, so renders are byte-identical.
"""

from __future__ import annotations

import math
import os
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing import Pool

import cv2
import numpy as np
import pandas as pd

from facemotion.common.targets import EMOTIONS

CLASS_SHARES = (0.10, 0.34, 0.45, 0.11)  # class shares of the seed corpus
# (activation, valence) means per class on the 1-5 scale
RATING_MEANS = {"Angry": (4.0, 1.8), "Happy": (3.6, 4.1), "Neutral": (2.8, 3.0), "Sad": (2.0, 1.9)}
RATING_SD = 0.4
N_SESSIONS = 6
SPEAKERS = tuple(f"F0{k}" for k in range(1, 7)) + tuple(f"M0{k}" for k in range(1, 7))
HARD_KINDS = ("face_leaves", "no_face", "too_short")
HARD_SHARE = 0.03
FORMATS = (("mp4", "mp4v"), ("avi", "MJPG"))  # both write and read back on pip opencv
FPS_CHOICES = (24, 25, 30)
DURATION_S = (1.5, 4.0)
FRAME_W, FRAME_H = 640, 360

# Face sprite: drawn once per recording in a fixed canvas, then warped into each frame.
CANVAS_W, CANVAS_H = 360, 440
FACE_CX, FACE_CY, FACE_B = 180.0, 190.0, 100.0  # face centre and half-height in canvas px
NOISE_PAD = 64


# ----------------------------------------------------------------------------- plan


def _largest_remainder(n: int, shares) -> np.ndarray:
    """Integer counts summing to n whose proportions are as close to shares as possible."""
    raw = np.asarray(shares, dtype=float) * n / np.sum(shares)
    counts = np.floor(raw).astype(int)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return counts


def plan_demo_corpus(n_recordings: int = 300, seed: int = 0) -> pd.DataFrame:
    """Manifest of a synthetic corpus: one row per recording, no rendering."""
    n = int(n_recordings)
    if n < 1:
        raise ValueError("n_recordings must be positive")
    rng = np.random.default_rng([seed, 0xDE30])

    labels = np.repeat(EMOTIONS, _largest_remainder(n, CLASS_SHARES))
    rng.shuffle(labels)
    # Cycle through speakers, then shuffle, so each speaker gets n/12 +- 1 recordings.
    speaker_idx = np.resize(np.arange(len(SPEAKERS)), n)
    rng.shuffle(speaker_idx)
    speakers = np.asarray(SPEAKERS)[speaker_idx]
    sessions = (speaker_idx % N_SESSIONS + 1).astype(str)  # session k = (F0k, M0k)

    means = np.array([RATING_MEANS[lab] for lab in labels])
    ratings = np.clip(means + rng.normal(0.0, RATING_SD, size=means.shape), 1.0, 5.0).round(2)

    # Hard recordings: about HARD_SHARE of the corpus, allocated over classes in proportion.
    kinds = np.full(n, "ordinary", dtype=object)
    n_hard = int(round(HARD_SHARE * n))
    if n_hard:
        per_class = _largest_remainder(n_hard, CLASS_SHARES)
        hard = np.concatenate([
            rng.choice(np.flatnonzero(labels == lab), size=min(k, int(np.sum(labels == lab))), replace=False)
            for lab, k in zip(EMOTIONS, per_class)
        ]).astype(int)
        rng.shuffle(hard)
        kinds[hard] = np.resize(HARD_KINDS, len(hard))

    fmt = rng.integers(0, len(FORMATS), size=n)
    fps = rng.choice(FPS_CHOICES, size=n)
    n_frames = np.round(rng.uniform(*DURATION_S, size=n) * fps).astype(int)
    n_frames = np.where(kinds == "too_short", rng.integers(3, 6, size=n), n_frames)
    # Expression strength: mostly clear, some weak, so the task is learnable but not trivial.
    intensity = np.where(rng.random(n) < 0.1, rng.uniform(0.45, 0.7, n), rng.uniform(0.7, 1.0, n)).round(3)
    look_seeds = rng.integers(0, 2**31, size=len(SPEAKERS))  # one appearance per speaker
    row_seeds = rng.integers(0, 2**31, size=n)

    recording = [f"S{ses}_{spk}_{i:04d}" for i, (ses, spk) in enumerate(zip(sessions, speakers), start=1)]
    return pd.DataFrame({
        "recording": recording,
        "path": [f"videos/{rec}.{FORMATS[f][0]}" for rec, f in zip(recording, fmt)],
        "speaker": speakers,
        "session": sessions,
        "label": labels,
        "activation": ratings[:, 0],
        "valence": ratings[:, 1],
        "demo_kind": kinds.astype(str),
        "demo_fourcc": [FORMATS[f][1] for f in fmt],
        "demo_fps": fps.astype(int),
        "demo_n_frames": n_frames.astype(int),
        "demo_intensity": intensity,
        "demo_look_seed": look_seeds[speaker_idx].astype(np.int64),
        "demo_seed": row_seeds.astype(np.int64),
    })


# ----------------------------------------------------------------------------- faces


@dataclass(frozen=True)
class Look:
    """A speaker's fixed appearance (canvas units: face half-height is FACE_B)."""

    ratio: float  # face width / height
    eye_gap: float  # eye centre offset from midline, fraction of face half-width
    eye_w: float
    nose_len: float
    mouth_w: float
    skin: tuple
    hair: tuple
    long_hair: bool
    fringe: str
    part_side: int
    shirt: tuple
    iris: tuple
    mouth_rest: float  # idiosyncratic corner lift, blurs class boundaries slightly
    brow_rest: float


SKIN_TONES_RGB = ((238, 206, 180), (224, 180, 150), (198, 150, 115), (170, 122, 90), (132, 92, 68), (108, 74, 56))
HAIR_RGB = ((25, 20, 18), (35, 28, 25), (55, 38, 28), (90, 62, 40), (140, 105, 70), (120, 118, 115))


def _bgr(rgb) -> tuple:
    return (float(rgb[2]), float(rgb[1]), float(rgb[0]))


def _speaker_look(look_seed: int, female: bool) -> Look:
    rng = np.random.default_rng(int(look_seed))
    tone = rng.integers(len(SKIN_TONES_RGB))
    skin = np.array(SKIN_TONES_RGB[tone], float) * rng.uniform(0.95, 1.05, 3)
    hair = HAIR_RGB[rng.integers(3 if tone >= 4 else len(HAIR_RGB))]  # dark skin: dark hair, as usual
    return Look(
        ratio=rng.uniform(0.70, 0.78) if female else rng.uniform(0.74, 0.82),
        eye_gap=rng.uniform(0.38, 0.45),
        eye_w=rng.uniform(0.15, 0.19),
        nose_len=rng.uniform(0.26, 0.36),
        mouth_w=rng.uniform(0.36, 0.46),
        skin=_bgr(np.clip(skin, 0, 255)),
        hair=_bgr(hair),
        long_hair=bool(rng.random() < (0.75 if female else 0.1)),
        fringe=str(rng.choice(["bangs", "side", "high"])),
        part_side=int(rng.choice([-1, 1])),
        shirt=_bgr(rng.integers(20, 230, 3)),
        iris=_bgr(((70, 45, 30), (60, 90, 120), (80, 100, 60))[rng.integers(3)]),
        mouth_rest=rng.normal(0.0, 0.012),
        brow_rest=rng.normal(0.0, 0.012),
    )


def _expression(label: str, strength: float) -> dict:
    """Feature offsets (in units of FACE_B unless noted) for a class at a given strength."""
    e = dict(brow_inner=0.0, brow_outer=0.0, brow_pull=0.0, eye_open=1.0, squint=0.0,
             mouth_lift=0.0, mouth_wide=1.0, lip=1.0, teeth=0.0, folds=0.0, frown=0.0)
    s = strength
    if label == "Angry":  # inner brows down and together, glaring eyes over tight lower lids, lips pressed
        e.update(brow_inner=0.25 * s, brow_outer=-0.05 * s, brow_pull=0.07 * s, eye_open=1.0 + 0.2 * s,
                 squint=0.35 * s, mouth_lift=-0.04 * s, mouth_wide=1.0 - 0.18 * s, lip=1.0 - 0.8 * s, frown=s)
    elif label == "Happy":  # corners up, wide open smile, teeth, cheeks push the lower lids up
        e.update(brow_inner=-0.03 * s, brow_outer=-0.03 * s, squint=0.55 * s, eye_open=1.0 - 0.15 * s,
                 mouth_lift=0.22 * s, mouth_wide=1.0 + 0.32 * s, teeth=max(0.0, s - 0.15), folds=s)
    elif label == "Sad":  # inner brows up, drooping lids, corners down
        e.update(brow_inner=-0.2 * s, brow_outer=0.1 * s, eye_open=1.0 - 0.5 * s,
                 mouth_lift=-0.22 * s, mouth_wide=1.0 - 0.1 * s, lip=1.0 + 0.25 * s)
    return e


def _egg(cx, cy, a, b, jaw=0.14, n=72) -> np.ndarray:
    """Face outline: an ellipse narrowed towards the chin."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    s = np.sin(t)
    x = cx + a * np.cos(t) * (1 - jaw * np.clip(s, 0, None) ** 2)
    return np.stack([x, cy + b * s], axis=1)


SHIFT = 3  # fixed-point bits for sub-pixel, anti-aliased drawing


def _pts(p) -> list:
    return [np.round(np.asarray(p) * (1 << SHIFT)).astype(np.int32)]


def _fill(img, poly, color):
    cv2.fillPoly(img, _pts(poly), color, cv2.LINE_AA, SHIFT)


def _ellipse(img, c, axes, color):
    f = 1 << SHIFT
    cv2.ellipse(img, (int(round(c[0] * f)), int(round(c[1] * f))), (int(round(axes[0] * f)), int(round(axes[1] * f))),
                0, 0, 360, color, -1, cv2.LINE_AA, SHIFT)


def _band(xs, y_top, y_bot) -> np.ndarray:
    """Closed polygon between an upper and a lower curve sampled at the same xs."""
    return np.concatenate([np.stack([xs, y_top], 1), np.stack([xs, y_bot], 1)[::-1]])


def _mix(c0, c1, t: float) -> tuple:
    """Colour t of the way from c0 to c1 (faint creases fade into the skin)."""
    return tuple(float(x) + (float(y) - float(x)) * t for x, y in zip(c0, c1))


class FaceModel:
    """Static shaded head sprite for one recording plus per-frame expression drawing."""

    def __init__(self, look: Look, tone, gain: np.ndarray, light_dir: float, rng: np.random.Generator):
        """tone maps linear colours to the recording's exposure; gain is the lighting over the canvas."""
        self.look = look
        b = FACE_B
        a = b * look.ratio
        cx, cy = FACE_CX, FACE_CY
        self.a, self.b = a, b
        skin, hair = look.skin, look.hair
        img = np.zeros((CANVAS_H, CANVAS_W, 3), np.uint8)
        mask = np.zeros((CANVAS_H, CANVAS_W), np.uint8)

        # Back layers: hair behind the head, torso, neck, ears.
        def both(draw, color):
            draw(img, color)
            draw(mask, 255)

        if look.long_hair:
            both(lambda m, c: _ellipse(m, (cx, cy - 0.12 * b), (1.22 * a, 1.14 * b), c), hair)
            both(lambda m, c: _fill(m, [(cx - 1.2 * a, cy - 0.1 * b), (cx + 1.2 * a, cy - 0.1 * b),
                                        (cx + 1.32 * a, cy + 1.05 * b), (cx - 1.32 * a, cy + 1.05 * b)], c), hair)
        else:
            both(lambda m, c: _ellipse(m, (cx, cy - 0.2 * b), (1.08 * a, 0.98 * b), c), hair)
        both(lambda m, c: _ellipse(m, (cx, CANVAS_H + 0.25 * b), (CANVAS_W / 2 - 2, 1.25 * b), c), look.shirt)
        neck = tuple(0.72 * v for v in skin)
        both(lambda m, c: _fill(m, [(cx - 0.46 * a, cy + 0.5 * b), (cx + 0.46 * a, cy + 0.5 * b),
                                    (cx + 0.5 * a, cy + 1.55 * b), (cx - 0.5 * a, cy + 1.55 * b)], c), neck)
        neckline = [(cx - 0.5 * a, cy + 1.35 * b), (cx, cy + 1.75 * b), (cx + 0.5 * a, cy + 1.35 * b)]
        both(lambda m, c: _fill(m, neckline, c), tuple(0.8 * v for v in skin))
        for side in (-1, 1):
            both(lambda m, c, side=side: _ellipse(m, (cx + side * 0.98 * a, cy - 0.02 * b), (0.15 * a, 0.22 * b), c),
                 tuple(0.85 * v for v in skin))
        face_mask = np.zeros_like(mask)
        _fill(face_mask, _egg(cx, cy, a, b), 255)
        both(lambda m, c: _fill(m, _egg(cx, cy, a, b), c), skin)

        # Smooth shading: darker towards the rim, side light, plus blurred shadows/highlights.
        yy, xx = np.mgrid[0:CANVAS_H, 0:CANVAS_W].astype(np.float32)
        u, v = (xx - cx) / a, (yy - cy) / b
        r2 = u * u + v * v
        fm = cv2.GaussianBlur(face_mask, (0, 0), 3).astype(np.float32) / 255
        shade = 1.0 - fm * (0.42 * np.clip(r2 - 0.25, 0, 1) ** 1.3 - 0.1 * light_dir * u)
        shadow = np.zeros((CANVAS_H, CANVAS_W), np.float32)
        ey, eg = cy - 0.1 * b, look.eye_gap * a
        for side in (-1, 1):
            _ellipse(shadow, (cx + side * eg, ey - 0.02 * b), (0.27 * a, 0.12 * b), 0.42)
            _ellipse(shadow, (cx + side * 0.5 * a, cy + 0.32 * b), (0.18 * a, 0.1 * b), 0.12)  # under cheekbone
        nose_y = cy + look.nose_len * b - 0.1 * b
        s = 1 if light_dir < 0 else -1  # shadow falls on the side away from the light
        _fill(shadow, [(cx + s * 0.06 * a, cy - 0.1 * b), (cx + s * 0.16 * a, nose_y - 0.02 * b),
                       (cx + s * 0.1 * a, nose_y + 0.05 * b), (cx + s * 0.02 * a, cy - 0.05 * b)], 0.35)
        _ellipse(shadow, (cx, nose_y + 0.09 * b), (0.2 * a, 0.05 * b), 0.45)  # under the nose
        _ellipse(shadow, (cx, cy + 0.7 * b), (0.16 * a, 0.05 * b), 0.3)  # under the lower lip
        _ellipse(shadow, (cx, cy + 1.02 * b), (0.55 * a, 0.12 * b), 0.5)  # chin onto neck
        shadow = cv2.GaussianBlur(shadow, (0, 0), 5)
        light = np.zeros_like(shadow)
        _ellipse(light, (cx, nose_y - 0.02 * b), (0.07 * a, 0.07 * b), 0.25)  # nose tip
        _ellipse(light, (cx, cy - 0.45 * b), (0.45 * a, 0.14 * b), 0.12)  # forehead
        for side in (-1, 1):
            _ellipse(light, (cx + side * 0.45 * a, cy + 0.15 * b), (0.16 * a, 0.1 * b), 0.08)
        light = cv2.GaussianBlur(light, (0, 0), 5)
        base = img.astype(np.float32) * (shade * (1 - shadow) + light * fm)[..., None]

        # Nostrils and the nose wings as dark blurred dots.
        dots = np.zeros((CANVAS_H, CANVAS_W), np.float32)
        for side in (-1, 1):
            _ellipse(dots, (cx + side * 0.11 * a, nose_y + 0.04 * b), (0.055 * a, 0.028 * b), 0.7)
            _ellipse(dots, (cx + side * 0.19 * a, nose_y), (0.03 * a, 0.06 * b), 0.3)
        dots = cv2.GaussianBlur(dots, (0, 0), 1.5)
        base *= (1 - dots)[..., None]

        # Fringe: hair over the upper forehead, below a style-dependent line.
        top = {"bangs": -0.52, "side": -0.62, "high": -0.74}[look.fringe]
        tilt = 0.18 * look.part_side if look.fringe == "side" else 0.0
        line = cy + (top + tilt * u - 0.06 * u * u) * b
        hair_mask = (yy < line) & ((u / 1.06) ** 2 + ((yy - cy + 0.06 * b) / (1.1 * b)) ** 2 < 1)
        hmask = cv2.GaussianBlur(hair_mask.astype(np.float32), (0, 0), 1.6)[..., None]
        strands = 1 + 0.12 * np.sin(xx * 0.9 + 3 * np.sin(yy * 0.05))[..., None]  # a hint of texture
        hair_px = np.array(hair, np.float32) * (1.05 - 0.25 * np.clip(r2, 0, 1))[..., None] * strands
        base = base * (1 - hmask) + hair_px * hmask
        # Subtle per-recording skin texture so frames are not flat colour.
        base += cv2.GaussianBlur(rng.normal(0, 6, (CANVAS_H, CANVAS_W)).astype(np.float32), (0, 0), 1.2)[..., None]

        # BGRA sprite: one 4-channel warp per frame is cheaper than warping colour and alpha apart.
        alpha = cv2.GaussianBlur(mask, (0, 0), 0.8)
        self.base = cv2.merge([*cv2.split(np.clip(tone(base * gain), 0, 255).astype(np.uint8)), alpha])
        self.bbox = cv2.boundingRect(alpha)  # only this part of the canvas needs warping
        g = float(gain[int(FACE_CY), int(FACE_CX), 0])  # features are small: light them at the face centre

        def color(c):  # opaque BGRA drawing colour
            return tuple(float(x) for x in np.clip(tone(np.asarray(c, np.float32) * g), 0, 255)) + (255.0,)

        self.frown_color = color(np.array(skin) * 0.6)
        self.brow_color = color(np.minimum(np.minimum(hair, 70), np.array(skin) * 0.45))  # brows always read dark
        self.lip_color = color(np.array(skin) * np.array([0.62, 0.58, 0.85]))
        self.lid_color = color(np.array([25.0, 22, 22]))
        self.sclera = color(np.array([205.0, 210, 215]))
        self.iris = color(np.array(look.iris))
        self.teeth = color(np.array([200.0, 210, 218]))
        self.inside = color(np.array([35.0, 30, 55]))
        self.fold_color = color(np.array(skin) * 0.7)
        self.cheek = tuple(float(x) for x in self.base[int(cy + 0.15 * b), int(cx + 0.45 * a)])

    def draw(self, e: dict, talk: float, blink: float, gaze: float) -> np.ndarray:
        """Sprite for one frame: the static head plus brows, eyes and mouth."""
        L, a, b, cx, cy = self.look, self.a, self.b, FACE_CX, FACE_CY
        img = self.base.copy()
        ey, eg, ew = cy - 0.1 * b, L.eye_gap * a, L.eye_w * b
        brow_y = cy - 0.33 * b + (L.brow_rest + 0.03 * e["brow_inner"]) * b
        t = np.linspace(0, 1, 9)
        k = np.linspace(-1, 1, 11)
        for side in (-1, 1):
            # Brow: thick tapered arc from inner to outer end.
            x_in = cx + side * (0.13 - e["brow_pull"]) * a
            x_out = cx + side * (eg + 0.26 * a)
            bx = x_in + t * (x_out - x_in)
            by = brow_y + (e["brow_inner"] * (1 - t) + e["brow_outer"] * t) * b - 0.06 * b * np.sin(np.pi * t ** 0.8)
            thick = (0.07 - 0.035 * t) * b
            _fill(img, _band(bx, by - thick / 2, by + thick / 2), self.brow_color)
            # Eye: almond of sclera, iris clipped to it, dark upper lid.
            ex = cx + side * eg
            open_up = max(0.0, e["eye_open"] * (1 - blink))
            open_lo = max(0.0, (1 - e["squint"]) * (1 - blink))
            xs = ex + k * ew
            up = ey - 0.09 * b * open_up * (1 - k * k) * (1 + 0.15 * side * k)
            lo = ey + 0.05 * b * open_lo * (1 - k * k) + 0.012 * b
            eye = _band(xs, up, lo)
            if open_up > 0.05:
                x0, y0 = int(ex - ew - 3), int(ey - 0.12 * b - 3)
                patch = img[y0:y0 + int(0.25 * b) + 6, x0:x0 + int(2 * ew) + 7]
                emask = np.zeros(patch.shape[:2], np.uint8)
                _fill(emask, eye - (x0, y0), 255)
                iris = patch.copy()
                _fill(iris, eye - (x0, y0), self.sclera)
                pupil = (ex + gaze * 0.25 * ew - x0, ey - 0.015 * b - y0)
                _ellipse(iris, pupil, (0.42 * ew, 0.42 * ew), self.iris)
                _ellipse(iris, pupil, (0.18 * ew, 0.18 * ew), self.lid_color)
                w = cv2.GaussianBlur(emask, (0, 0), 0.7).astype(np.float32)[..., None] / 255
                patch[:] = (patch * (1 - w) + iris * w).astype(np.uint8)
            cv2.polylines(img, _pts(np.stack([xs, up], 1)), False, self.lid_color, 3, cv2.LINE_AA, SHIFT)
            lower_lid = np.stack([xs[2:-2], lo[2:-2] + 1], 1)
            cv2.polylines(img, _pts(lower_lid), False, self.fold_color, 1, cv2.LINE_AA, SHIFT)
            # Happy: cheek folds from the nose wings to the mouth corners.
            if e["folds"] > 0.2:
                ff = np.linspace(0, 1, 6)
                fx = cx + side * (0.24 + 0.16 * ff) * a
                fy = cy + (L.nose_len - 0.05 + 0.3 * ff) * b
                col = _mix(self.cheek, self.fold_color, 0.8 * e["folds"])
                cv2.polylines(img, _pts(np.stack([fx, fy], 1)), False, col, 3, cv2.LINE_AA, SHIFT)
        if e["frown"] > 0.3:  # Angry: vertical creases between the brows
            col = _mix(self.cheek, self.frown_color, 0.8 * e["frown"])
            for side in (-1, 1):
                crease = [(cx + side * 0.05 * a, brow_y + 0.02 * b), (cx + side * 0.04 * a, brow_y + 0.13 * b)]
                cv2.polylines(img, _pts(crease), False, col, 3, cv2.LINE_AA, SHIFT)

        # Mouth: a lip line curving with the corner lift; lips and opening around it.
        my = cy + 0.5 * b
        mw = L.mouth_w * a * e["mouth_wide"]
        lift = (e["mouth_lift"] + L.mouth_rest) * b
        xs = cx + k * mw
        mid = my - lift * k * k
        arch = np.sqrt(1 - k * k)
        opening = (0.02 + talk) * b * arch + 0.13 * b * e["teeth"] * arch
        top = mid - opening * 0.35
        bot = mid + opening
        upper = top - 0.055 * b * e["lip"] * arch * (1 - 0.25 * np.exp(-(k * 6) ** 2))  # cupid's bow
        lower = bot + 0.075 * b * e["lip"] * arch
        _fill(img, _band(xs, upper, lower), self.lip_color)
        if opening.max() > 0.025 * b:
            _fill(img, _band(xs, top, bot), self.inside)
            if e["teeth"] > 0:
                teeth_bot = top + (bot - top) * min(0.7, 0.35 + e["teeth"])
                _fill(img, _band(xs[1:-1], top[1:-1], teeth_bot[1:-1]), self.teeth)
        cv2.polylines(img, _pts(np.stack([xs, mid], 1)), False, self.inside, 2, cv2.LINE_AA, SHIFT)
        return img


# ----------------------------------------------------------------------------- frames


def _background(rng: np.random.Generator, tone) -> np.ndarray:
    """A plain room: graded wall, a few blurred blocks (door, shelf, picture), a floor."""
    h, w = FRAME_H, FRAME_W
    grey = rng.uniform(30, 220)
    wall = grey + (rng.uniform(30, 220, 3) - grey) * rng.uniform(0.2, 0.7)  # muted room colours
    grad = np.linspace(rng.uniform(0.8, 1.1), rng.uniform(0.75, 1.05), h, dtype=np.float32)[:, None, None]
    bg = np.ascontiguousarray(np.broadcast_to(wall.astype(np.float32) * grad, (h, w, 3)))
    for _ in range(rng.integers(2, 6)):
        x0, y0 = rng.integers(-50, w), rng.integers(-50, h)
        cv2.rectangle(bg, (int(x0), int(y0)), (int(x0 + rng.integers(30, 220)), int(y0 + rng.integers(30, 260))),
                      tuple(float(c) for c in 0.5 * (rng.uniform(20, 235, 3) + rng.uniform(20, 235))), -1)
    floor_y = int(rng.integers(int(0.75 * h), h + 40))
    cv2.rectangle(bg, (0, floor_y), (w, h), tuple(float(c) for c in rng.uniform(20, 160, 3)), -1)
    bg = cv2.GaussianBlur(bg, (0, 0), rng.uniform(1.5, 4))  # out of focus behind the speaker
    return np.clip(tone(bg), 0, 255).astype(np.uint8)


_NOISE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _noise_bank(level: int) -> tuple[np.ndarray, np.ndarray]:
    """Constant (seeded) noise field split into + and - parts; frames take random crops of it."""
    if level not in _NOISE:
        n = np.random.default_rng(7919 + level).normal(0, level, (FRAME_H + NOISE_PAD, FRAME_W + NOISE_PAD, 3))
        n = np.round(n).astype(np.int16)
        _NOISE[level] = (np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8))
    return _NOISE[level]


def _composite(frame: np.ndarray, face: FaceModel, sprite: np.ndarray, M: np.ndarray) -> None:
    """Warp the BGRA sprite by the 2x3 affine M and alpha-blend it into frame (in place, ROI only)."""
    bx, by, bw, bh = face.bbox
    M = M.copy()
    M[:, 2] += M[:, :2] @ (bx, by)  # M now maps the bbox crop
    corners = np.array([[0, 0, 1], [bw, 0, 1], [0, bh, 1], [bw, bh, 1]], float) @ M.T
    x0, y0 = np.floor(corners.min(0)).astype(int)
    x1, y1 = np.ceil(corners.max(0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, FRAME_W), min(y1, FRAME_H)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    M[:, 2] -= (x0, y0)
    warped = cv2.warpAffine(sprite[by:by + bh, bx:bx + bw], M, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT)
    w = cv2.extractChannel(warped, 3).astype(np.float32) * (1 / 255)
    roi = frame[y0:y1, x0:x1]
    roi[:] = cv2.blendLinear(cv2.cvtColor(warped, cv2.COLOR_BGRA2BGR), roi, w, 1 - w)


def _clip_frames(row: dict, n_frames: int) -> Iterator[np.ndarray]:
    """The BGR frames of one planned recording; everything random comes from the row's seed."""
    rng = np.random.default_rng(int(row["demo_seed"]))
    kind, fps = row["demo_kind"], int(row["demo_fps"])
    count = int(row["demo_n_frames"])
    if kind == "too_short":
        count = max(1, min(count, n_frames - 1))

    # Lighting: linear gain gradient across the frame, then global contrast and brightness.
    theta = rng.uniform(0, 2 * np.pi)
    grad = rng.uniform(0.0, 0.35)
    contrast, bright = rng.uniform(0.8, 1.15), rng.uniform(-25, 25)
    gx, gy = grad * np.cos(theta) / FRAME_W, grad * np.sin(theta) / FRAME_W

    def lit_tone(values, gain=1.0):
        return (np.asarray(values, np.float32) * gain - 128) * contrast + 128 + bright

    yy, xx = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float32)
    frame_gain = (1 + gx * (xx - FRAME_W / 2) + gy * (yy - FRAME_H / 2))[..., None]
    bg = _background(rng, lambda im: lit_tone(im * frame_gain))

    # Placement: face height 45-65% of the frame, small roll, drift and bob.
    scale = rng.uniform(0.45, 0.65) * FRAME_H / (2 * FACE_B)
    pos0 = np.array([rng.uniform(0.34, 0.66) * FRAME_W, rng.uniform(0.44, 0.54) * FRAME_H])
    roll0 = rng.uniform(-4, 4)
    drift = rng.normal(0, 6, 2)
    bob_amp, bob_hz, bob_phase = rng.uniform(1, 5), rng.uniform(0.4, 1.5), rng.uniform(0, 2 * np.pi)
    sway_amp, sway_hz = rng.uniform(0.3, 1.5), rng.uniform(0.2, 0.8)
    exit_dir = rng.choice([-1, 1])

    look = _speaker_look(int(row["demo_look_seed"]), str(row["speaker"]).startswith("F"))
    # Lighting over the head sprite, evaluated at its starting placement (it moves little).
    cyy, cxx = np.mgrid[0:CANVAS_H, 0:CANVAS_W].astype(np.float32)
    fx = pos0[0] + (cxx - FACE_CX) * scale
    fy = pos0[1] + (cyy - FACE_CY) * scale
    canvas_gain = (1 + gx * (fx - FRAME_W / 2) + gy * (fy - FRAME_H / 2))[..., None]
    face = None
    if kind != "no_face":
        light_dir = float(np.clip(-(gx * FRAME_W) * 4, -1, 1))  # side shading agrees with the gradient
        face = FaceModel(look, lit_tone, canvas_gain, light_dir, rng)

    # Expression dynamics: per-recording strength, slow swell, speech, blinks, idle noise.
    strength = float(row["demo_intensity"])
    idle = {k: rng.normal(0, 0.015) for k in ("brow_inner", "mouth_lift")}
    swell_hz, swell_phase = rng.uniform(0.2, 0.7), rng.uniform(0, 2 * np.pi)
    talk_amp, talk_hz = rng.uniform(0.0, 0.07), rng.uniform(2.5, 5.0)
    blink_at = rng.uniform(0, count / fps, size=rng.integers(0, 3))
    gaze = rng.uniform(-0.6, 0.6)
    level = int(rng.integers(2, 6))
    noise_pos, noise_neg = _noise_bank(level)
    offsets = rng.integers(0, NOISE_PAD, size=(count, 4))

    for i in range(count):
        t = i / fps
        frame = bg.copy()
        if face is not None:
            e = _expression(row["label"], strength * (0.9 + 0.1 * math.sin(2 * math.pi * swell_hz * t + swell_phase)))
            for k, v in idle.items():
                e[k] += v
            talk = talk_amp * max(0.0, math.sin(2 * math.pi * talk_hz * t)) ** 2
            blink = max([max(0.0, 1 - abs(t - bt) * fps / 1.5) for bt in blink_at], default=0.0)
            if i % 2 == 0:  # expressions change slowly: redraw features every other frame
                sprite = face.draw(e, talk, blink, gaze)
            pos = pos0 + drift * t / 4 + (sway_amp * 4 * math.sin(2 * math.pi * sway_hz * t),
                                          bob_amp * math.sin(2 * math.pi * bob_hz * t + bob_phase))
            if kind == "face_leaves":  # in view briefly, then slides sideways out of frame
                gone = min(1.0, max(0.0, (i / max(count - 1, 1) - 0.12) / 0.2))
                pos = pos + (exit_dir * gone * 1.1 * FRAME_W, 0)
            zoom = scale * (1 + 0.015 * math.sin(2 * math.pi * 0.3 * t))
            M = cv2.getRotationMatrix2D((FACE_CX, FACE_CY), roll0 + math.sin(2 * math.pi * 0.25 * t), zoom)
            M[:, 2] += pos - (FACE_CX, FACE_CY)
            _composite(frame, face, sprite, M)
        oy, ox, ny, nx = offsets[i]
        cv2.add(frame, noise_pos[oy:oy + FRAME_H, ox:ox + FRAME_W], dst=frame)
        cv2.subtract(frame, noise_neg[ny:ny + FRAME_H, nx:nx + FRAME_W], dst=frame)
        yield frame


def _write_clip(row: dict, out_dir: pathlib.Path, n_frames: int) -> None:
    path = out_dir / row["path"]
    path.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter_fourcc(*row["demo_fourcc"])
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, fourcc, int(row["demo_fps"]), (FRAME_W, FRAME_H))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path} with fourcc {row['demo_fourcc']}")
    try:
        for frame in _clip_frames(row, n_frames):
            writer.write(frame)
    finally:
        writer.release()


def _init_worker() -> None:
    # The pool already uses every core. 0 (not 1) runs OpenCV serially without touching its
    # thread pool, which may be inherited broken from a forked parent and then hang.
    cv2.setNumThreads(0)


def _write_clip_args(args) -> None:
    _write_clip(*args)


# Written first into a folder the generator takes over: only such a folder, a new one or an
# empty one is ever written into, so a user's own corpus is never overwritten.
OWNER_MARK = ".facemotion-demo"


def demo_folder_problem(out_dir: pathlib.Path | str) -> str | None:
    """Why the demo corpus must not be written into `out_dir`, or None if it may: a folder that
    does not exist, holds only empty folders, or was created by this generator (OWNER_MARK)."""
    out_dir = pathlib.Path(out_dir)
    if not out_dir.exists() or (out_dir / OWNER_MARK).is_file():
        return None
    if out_dir.is_dir() and not any(p.is_file() or p.is_symlink() for p in out_dir.rglob("*")):
        return None
    what = "a file" if not out_dir.is_dir() else "a folder with files that the demo generator did not create"
    return (f"corpus.path: {str(out_dir)!r} is {what}, and corpus.format is 'demo', which would write a "
            f"synthetic manifest.tsv and videos there. To use your own corpus, set corpus.format (tsv, "
            f"msp-improv, iemocap, crema-d, ravdess); for the demo, point corpus.path at a new or empty folder")


def render_demo_corpus(plan: pd.DataFrame, out_dir: pathlib.Path, n_frames: int = 8,
                       workers: int | None = None) -> None:
    """Render every planned video under out_dir and write out_dir/manifest.tsv, in ``workers``
    processes (default: one per CPU); refuses a folder that holds anything the generator did not
    create (see demo_folder_problem)."""
    out_dir = pathlib.Path(out_dir)
    problem = demo_folder_problem(out_dir)
    if problem:
        raise FileExistsError(problem)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / OWNER_MARK).write_text("created by facemotion's demo corpus generator; it may rewrite this folder\n")
    # Longest clips first so the workers finish together.
    rows = sorted(plan.to_dict("records"), key=lambda r: -int(r["demo_n_frames"]))
    jobs = [(row, out_dir, int(n_frames)) for row in rows]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if workers == 1:
        for job in jobs:
            _write_clip_args(job)
    else:
        with Pool(workers, initializer=_init_worker) as pool:
            pool.map(_write_clip_args, jobs, chunksize=1)
    public = [c for c in plan.columns if not c.startswith("demo_")]
    plan[public].to_csv(out_dir / "manifest.tsv", sep="\t", index=False)
