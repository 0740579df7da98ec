"""Offline speech synthesis with eSpeak NG: text → mono float32 waveform, no network, no subprocess.

eSpeak NG (https://github.com/espeak-ng/espeak-ng) is a small formant synthesiser for 100+ languages. genlab
uses the copy bundled by the ``espeakng-loader`` package (``libespeak-ng`` 1.52 and its ``espeak-ng-data``),
installed by the ``audio`` extra, and calls its C API (``speak_lib.h``) through :mod:`ctypes`:
``espeak_Initialize`` in synchronous mode, a synth callback that collects the 16-bit samples,
``espeak_SetVoiceByName`` / ``espeak_SetParameter`` (rate, pitch, pitch range) and ``espeak_Synth``.

**Licence**: eSpeak NG is GPL-3.0-or-later. It is an optional extra of genlab, loaded only here and only
when speech is synthesised; nothing in genlab's core imports it.

**Voices** are written ``language[+variant]``: a language code (``en``, ``en-us``, ``en-gb-scotland``;
:func:`voices`) optionally followed by a voice variant (``f1``–``f5`` female, ``m1``–``m8`` male, ``klatt``,
…; :func:`variants`), e.g. ``en+f3``. Output is at eSpeak's native 22,050 Hz unless resampled.

**Determinism**: the synthesiser keeps state between utterances in C statics (the phase of its pitch
"flutter" table, the cycle counter of voice roughness, the automatic gain), so the same call made twice in one
loaded library gives slightly different samples. Each synthesis therefore loads a fresh instance of the
library and unloads it afterwards (a few milliseconds), which makes every call depend on its arguments only. The
instance is loaded from a private copy of the shared library (one per process, in a temporary folder)
because the dynamic loader shares one instance per file: another user of ``espeakng-loader`` in the same
process (phonemizer) would otherwise keep it, and its state, alive. One synthesis runs at a time
(a module lock), so the functions are thread-safe.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from genlab.audio.io import resample
from genlab.core.errors import BadInputError, closest
from genlab.core.optional import require

NATIVE_SAMPLE_RATE = 22050  # what eSpeak NG's own voices produce

# constants of speak_lib.h
AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_DONT_EXIT = 0x8000  # espeakINITIALIZE_DONT_EXIT: return an error instead of calling exit(1)
POS_CHARACTER = 1
CHARS_UTF8 = 1
EE_OK = 0
RATE, VOLUME, PITCH, RANGE = 1, 2, 3, 4  # espeak_PARAMETER

RATE_LIMITS = (80, 450)  # words per minute, as documented for espeakRATE
PITCH_LIMITS = (0, 100)  # for both pitch and pitch range (50 = the voice's own)

_lock = threading.Lock()
_chunks: list[np.ndarray] = []  # filled by the callback during one synthesis (under _lock)
_library_file: str | None = None


class _Voice(ctypes.Structure):
    """``espeak_VOICE`` of speak_lib.h (``languages``: pairs of a priority byte and a NUL-ended code)."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def _collect(wav, numsamples: int, events) -> int:
    """t_espeak_callback: copy each block of 16-bit samples (the last call has none); 0 = go on."""
    if wav and numsamples > 0:
        _chunks.append(np.ctypeslib.as_array(wav, shape=(numsamples,)).copy())
    return 0


# Kept at module level for the life of the process: the C library holds only a raw pointer to it.
_CALLBACK = _SynthCallback(_collect)


def _loader():
    return require("espeakng_loader", "audio", "synthesising speech with eSpeak NG")


def available() -> bool:
    """True when eSpeak NG can be used here (``espeakng-loader`` installed, with its library and data)."""
    try:
        loader = _loader()
        return Path(loader.get_library_path()).is_file() and (Path(loader.get_data_path()) / "phondata").is_file()
    except Exception:  # a missing package or a broken install: not available either way
        return False


def _private_copy(source: str) -> str:
    """A copy of the shared library in a temporary folder (removed at exit); ``source`` if copying fails."""
    try:
        folder = tempfile.mkdtemp(prefix="genlab-espeak-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        return shutil.copy2(source, os.path.join(folder, os.path.basename(source)))
    except OSError:
        return source


def _open_library() -> ctypes.CDLL:
    """Load a fresh instance of libespeak-ng (the private copy; the original where the copy cannot load)."""
    global _library_file
    source = _loader().get_library_path()
    if _library_file is None:
        _library_file = _private_copy(source)
    try:
        lib = ctypes.CDLL(_library_file)
    except OSError:
        if _library_file == source:
            raise BadInputError(
                f"cannot load eSpeak NG from {source}", "reinstall it: pip install --force-reinstall espeakng-loader"
            ) from None
        _library_file = source  # e.g. a temporary folder mounted noexec
        return _open_library()
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
        ctypes.c_void_p, ctypes.c_void_p,
    ]  # fmt: skip
    lib.espeak_ListVoices.argtypes = [ctypes.POINTER(_Voice)]
    lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
    return lib


def _close_library(lib: ctypes.CDLL) -> None:
    """Unload ``lib`` so that the next load starts from the library's initial state."""
    import _ctypes

    close = getattr(_ctypes, "dlclose", None) or getattr(_ctypes, "FreeLibrary", None)
    if close is not None:
        close(lib._handle)


@contextlib.contextmanager
def _engine() -> Iterator[ctypes.CDLL]:
    """A freshly loaded and initialised eSpeak NG, used by one caller at a time, unloaded afterwards."""
    data = Path(_loader().get_data_path())
    if not (data / "phondata").is_file():
        raise BadInputError(
            f"eSpeak NG's data is missing from {data}", "reinstall it: pip install --force-reinstall espeakng-loader"
        )
    with _lock:
        lib = _open_library()
        try:
            rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, os.fsencode(data), INITIALIZE_DONT_EXIT)
            if rate != NATIVE_SAMPLE_RATE:
                raise BadInputError(
                    f"eSpeak NG did not start (it reported {rate})", f"check its data folder {data}; reinstall it"
                )
            lib.espeak_SetSynthCallback(_CALLBACK)
            yield lib
        finally:
            lib.espeak_Terminate()
            _close_library(lib)
            _chunks.clear()


def _languages(voice: _Voice) -> list[str]:
    """The language codes of one ``espeak_VOICE`` (its ``languages`` field, priorities dropped)."""
    codes, address = [], voice.languages
    while address and ctypes.c_ubyte.from_address(address).value != 0:
        code = ctypes.string_at(address + 1)
        codes.append(code.decode("ascii", "replace"))
        address += 2 + len(code)
    return codes


def _list(lib: ctypes.CDLL, spec: _Voice | None) -> list[_Voice]:
    array = lib.espeak_ListVoices(ctypes.byref(spec) if spec is not None else None)
    found, i = [], 0
    while array[i]:
        found.append(array[i].contents)
        i += 1
    return found


@contextlib.contextmanager
def _stderr_to_file() -> Iterator[int]:
    """Send what C code writes to file descriptor 2 into a temporary file, whose descriptor is yielded."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield sink.fileno()
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@functools.cache
def _catalogue() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(language codes usable as voices, variant names), read once from the bundled data.

    A code counts when ``espeak_SetVoiceByName`` accepts it without complaint: a few voices of the data
    lack their dictionary, which eSpeak NG reports on stderr only (captured here, so nothing is printed).
    """
    with _engine() as lib:
        codes = sorted({code for v in _list(lib, None) for code in _languages(v) if code != "variant"})
        usable = []
        with _stderr_to_file() as err:
            for code in codes:
                before = os.fstat(err).st_size
                if lib.espeak_SetVoiceByName(code.encode()) == EE_OK and os.fstat(err).st_size == before:
                    usable.append(code)
        spec = _Voice()
        spec.languages = ctypes.cast(ctypes.c_char_p(b"variant"), ctypes.c_void_p)
        ids = [(v.identifier or b"").decode() for v in _list(lib, spec)]
        names = tuple(sorted({i.split("/", 1)[1] for i in ids if i.startswith("!v/")}, key=str.lower))
    return tuple(usable), names


def voices(language: str | None = None) -> list[str]:
    """Language codes usable as voices (``en``, ``en-us``, ``fr-fr`` …), sorted; with ``language``, only that
    code and its regional forms (``voices("en")`` → ``en``, ``en-029``, …, ``en-us``)."""
    codes = _catalogue()[0]
    if language is None:
        return list(codes)
    language = language.lower()
    return [c for c in codes if c == language or c.startswith(language + "-")]


def variants() -> list[str]:
    """Voice variants that can follow a language after ``+`` (``f3`` in ``en+f3``): ``f1``–``f5``, ``m1``–``m8``,
    ``klatt``… (names are case-sensitive)."""
    return list(_catalogue()[1])


def _voice_hint() -> str:
    common = [v for v in variants() if len(v) == 2 and v[0] in "fm" and v[1].isdigit()]
    return (
        f"write language[+variant], e.g. en, en-us, en+f3; English voices: {', '.join(voices('en'))}; "
        f"variants include {', '.join(common)}, klatt (genlab.audio.espeak.voices() and variants() list all)"
    )


def _suggest(name: str, choices: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the choice equal up to case, or else the closest one; '' when none is close."""
    guess = next((c for c in choices if c.lower() == name.lower()), None) or closest(name, choices)
    return f" (did you mean '{guess}'?)" if guess else ""


def _check_voice(voice: str) -> None:
    """Refuse a voice that is not ``code[+variant]`` of the bundled data (eSpeak NG itself would fall back
    silently to the plain voice for an unknown variant)."""
    language, _, variant = voice.partition("+")
    if not language:
        raise BadInputError(f"the voice '{voice}' names no language", _voice_hint())
    if language.lower() not in voices():
        raise BadInputError(f"eSpeak NG has no voice '{language}'{_suggest(language, voices())}", _voice_hint())
    if variant and variant not in variants():
        raise BadInputError(f"eSpeak NG has no voice variant '{variant}'{_suggest(variant, variants())}", _voice_hint())


def _check_range(name: str, value: int, limits: tuple[int, int]) -> None:
    if not limits[0] <= value <= limits[1]:
        raise BadInputError(f"{name} must be in {limits[0]}..{limits[1]}, got {value}")


def synthesize(
    text: str,
    voice: str = "en",
    rate_wpm: int = 175,
    pitch: int = 50,
    pitch_range: int = 50,
    sample_rate: int | None = None,
) -> tuple[torch.Tensor, int]:
    """Speak ``text`` with eSpeak NG; returns ``(wave, rate)``: float32 mono in [-1, 1], shape (samples,).

    ``voice``: ``language[+variant]`` (``en``, ``en-us+m3``; see :func:`voices`, :func:`variants`).
    ``rate_wpm``: speaking rate in words per minute (80–450). ``pitch`` and ``pitch_range``: 0–100, where
    50 is the voice's own base pitch and intonation range. ``sample_rate``: resample to this rate
    (None keeps eSpeak's 22,050 Hz). The result depends on the arguments only (see the module notes).
    Unknown voices or out-of-range values raise :class:`BadInputError`.
    """
    if not text or not text.strip():
        raise BadInputError("there is no text to speak", "pass a word or a sentence")
    _check_voice(voice)
    language, plus, variant = voice.partition("+")
    name = language.lower() + plus + variant  # codes are lower case; variant names are case-sensitive file names
    _check_range("rate_wpm", rate_wpm, RATE_LIMITS)
    _check_range("pitch", pitch, PITCH_LIMITS)
    _check_range("pitch_range", pitch_range, PITCH_LIMITS)
    encoded = text.replace("\0", " ").encode("utf-8") + b"\0"
    with _engine() as lib:
        if lib.espeak_SetVoiceByName(name.encode()) != EE_OK:  # checked above: only a broken install fails here
            raise BadInputError(f"eSpeak NG could not load the voice '{voice}'", "reinstall espeakng-loader")
        for parameter, value in ((RATE, rate_wpm), (VOLUME, 100), (PITCH, pitch), (RANGE, pitch_range)):
            lib.espeak_SetParameter(parameter, int(value), 0)  # 0: absolute values
        status = lib.espeak_Synth(encoded, len(encoded), 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
        samples = np.concatenate(_chunks) if _chunks else np.zeros(0, dtype=np.int16)
    if status != EE_OK or samples.size == 0:
        raise BadInputError(f"eSpeak NG produced no audio for {text[:40]!r} (status {status})", "try plainer text")
    wave = torch.from_numpy(samples.astype(np.float32) / 32768.0)
    if sample_rate is not None and sample_rate != NATIVE_SAMPLE_RATE:
        return resample(wave, NATIVE_SAMPLE_RATE, sample_rate), int(sample_rate)
    return wave, NATIVE_SAMPLE_RATE
