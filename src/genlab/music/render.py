"""Rendering pieces to audio: FluidSynth with a General MIDI SoundFont when installed, else a built-in synthesiser.

:func:`render` writes the piece to a temporary MIDI file and runs the ``fluidsynth`` command-line program
(Debian package ``fluidsynth``; a SoundFont such as ``timgm6mb-soundfont`` or ``fluid-soundfont-gm``) when
both are found; it never requires them. Otherwise the built-in synthesiser plays every note as a sum of
harmonic partials (amplitude 1/k², upper partials decaying faster, as a plucked or struck string does) under
an attack–decay–sustain–release envelope, mixes the voices, and normalises the peak. Audio is mono float32 in
[-1, 1].
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

from genlab.core.errors import BadInputError
from genlab.core.io import atomic_write
from genlab.music.notes import Piece

SOUNDFONT_ENV = "GENLAB_SOUNDFONT"
SOUNDFONTS = (
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
)
PEAK = 0.9
N_PARTIALS = 6
ATTACK_S, DECAY_S, SUSTAIN, RELEASE_S = 0.01, 0.25, 0.35, 0.15
FLUIDSYNTH_TIMEOUT_S = 600


def find_soundfont(soundfont: str | Path | None = None) -> Path | None:
    """``soundfont`` if given (it must exist), else ``$GENLAB_SOUNDFONT``, else the first installed GM SoundFont."""
    if soundfont is not None:
        path = Path(soundfont).expanduser()
        if not path.is_file():
            raise BadInputError(f"no SoundFont at {path}", "give an existing .sf2 file, or leave it out")
        return path
    candidates = [os.environ.get(SOUNDFONT_ENV, ""), *SOUNDFONTS]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


def fluidsynth_available(soundfont: str | Path | None = None) -> bool:
    """Whether :func:`render` will use FluidSynth: the program is on the PATH and a SoundFont is found."""
    return shutil.which("fluidsynth") is not None and find_soundfont(soundfont) is not None


def render(piece: Piece, sample_rate: int = 22050, soundfont: str | Path | None = None) -> np.ndarray:
    """``piece`` as mono float32 audio in [-1, 1] at ``sample_rate`` Hz (FluidSynth when available, else the
    built-in synthesiser)."""
    if not 8000 <= sample_rate <= 192000:
        raise BadInputError(f"sample rate {sample_rate} Hz is out of range", "use 8000–192000 Hz, e.g. 22050")
    if not piece.notes:
        raise BadInputError("the piece has no notes to render")
    font = find_soundfont(soundfont)
    if font is not None and shutil.which("fluidsynth"):
        return render_fluidsynth(piece, sample_rate, font)
    return synthesize(piece, sample_rate)


def render_fluidsynth(piece: Piece, sample_rate: int, soundfont: Path) -> np.ndarray:
    """Render through the ``fluidsynth`` program (fast-render mode, no audio device)."""
    from genlab.music.io import write_midi

    with tempfile.TemporaryDirectory(prefix="genlab-render-") as tmp:
        midi, wav = Path(tmp) / "piece.mid", Path(tmp) / "piece.wav"
        write_midi(piece, midi)
        cmd = [
            "fluidsynth",
            "-ni",
            "-q",
            "-g",
            "0.6",
            "-r",
            str(sample_rate),
            "-F",
            str(wav),
            str(soundfont),
            str(midi),
        ]
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=FLUIDSYNTH_TIMEOUT_S)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
            detail = getattr(e, "stderr", b"") or b""
            raise BadInputError(
                f"fluidsynth failed: {detail.decode(errors='replace').strip()[:300] or e}",
                "check the SoundFont, or uninstall fluidsynth to use the built-in synthesiser",
            ) from None
        audio = read_wav(wav)
    return _normalize(audio)


def synthesize(piece: Piece, sample_rate: int = 22050) -> np.ndarray:
    """The built-in synthesiser: additive harmonic partials under an ADSR envelope, voices mixed, peak-normalised."""
    seconds_per_beat = 60.0 / piece.tempo
    total = int(np.ceil((piece.length * seconds_per_beat + RELEASE_S) * sample_rate)) + 1
    out = np.zeros(total, dtype=np.float64)
    for n in piece.notes:
        start = int(round(n.start * seconds_per_beat * sample_rate))
        held = n.duration * seconds_per_beat
        tone = _note(n.pitch, held, n.velocity, sample_rate)
        stop = min(total, start + len(tone))
        out[start:stop] += tone[: stop - start]
    return _normalize(out)


def _note(pitch: int, held_s: float, velocity: int, sample_rate: int) -> np.ndarray:
    """One note: ``held_s`` seconds plus the release, partials 1/k² up to the Nyquist frequency."""
    n = int(np.ceil((held_s + RELEASE_S) * sample_rate))
    t = np.arange(n) / sample_rate
    f0 = 440.0 * 2.0 ** ((pitch - 69) / 12)
    tone = np.zeros(n)
    for k in range(1, N_PARTIALS + 1):
        if k * f0 >= sample_rate / 2:
            break
        tone += np.sin(2 * np.pi * k * f0 * t) * np.exp(-t * 1.5 * k) / k**2  # upper partials die away sooner
    return tone * _adsr(n, held_s, sample_rate) * (velocity / 127.0)


def _adsr(n: int, held_s: float, sample_rate: int) -> np.ndarray:
    """Attack–decay–sustain while the note is held, then a linear release to silence."""
    t = np.arange(n) / sample_rate
    attack = np.clip(t / ATTACK_S, 0.0, 1.0)
    decay = SUSTAIN + (1 - SUSTAIN) * np.exp(-np.maximum(t - ATTACK_S, 0.0) / DECAY_S)
    env = attack * decay
    level = env[min(n - 1, int(held_s * sample_rate))]  # the release starts from the level reached
    after = t >= held_s
    env[after] = level * np.clip(1 - (t[after] - held_s) / RELEASE_S, 0.0, 1.0)
    return env


def _normalize(audio: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    scaled = audio * (PEAK / peak) if peak > 0 else audio
    return np.clip(scaled, -1.0, 1.0).astype(np.float32)


def write_wav(audio: np.ndarray, sample_rate: int, path: str | Path) -> Path:
    """Write mono float audio in [-1, 1] as a 16-bit PCM WAV file (atomically); returns the path."""
    path = Path(path).expanduser()
    samples = np.asarray(audio, dtype=np.float64).reshape(-1)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).round().astype("<i2")

    def write(tmp: str) -> None:
        with wave.open(tmp, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(int(sample_rate))
            w.writeframes(pcm.tobytes())

    atomic_write(path, write)
    return path


def read_wav(path: str | Path) -> np.ndarray:
    """A 16-bit PCM WAV file as mono float32 (channels averaged)."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise BadInputError(f"{path} is not 16-bit PCM")
        channels = w.getnchannels()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    return data.reshape(-1, channels).mean(axis=1)
