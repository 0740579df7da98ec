"""Speech synthesis with the bundled eSpeak NG: real audio, deterministic, resampled, and clear errors."""

from __future__ import annotations

import threading

import pytest
import torch

pytest.importorskip("espeakng_loader", reason="eSpeak NG comes with espeakng-loader (pip install 'genlab[audio]')")
pytest.importorskip("scipy.signal", reason="resampling needs scipy (pip install 'genlab[audio]')")

from genlab.audio import espeak, io  # noqa: E402
from genlab.core.errors import BadInputError  # noqa: E402


def test_available_and_lists_english_voices_and_variants():
    assert espeak.available()
    assert {"en", "en-us"} <= set(espeak.voices("en"))
    assert all(v == "en" or v.startswith("en-") for v in espeak.voices("en"))
    assert {"f3", "m3", "klatt"} <= set(espeak.variants())


def test_seven_is_a_short_non_silent_word():
    wave, rate = espeak.synthesize("seven")
    assert rate == espeak.NATIVE_SAMPLE_RATE == 22050
    assert wave.dtype == torch.float32 and wave.dim() == 1
    assert 0.2 <= wave.numel() / rate <= 2.0
    assert not io.is_silent(wave) and float(wave.abs().max()) <= 1.0


def test_same_call_gives_identical_samples_even_after_other_calls():
    first, _ = espeak.synthesize("seven", voice="en+f3")
    espeak.synthesize("a longer sentence in between, to move the synthesiser's internal state", voice="en-us")
    again, _ = espeak.synthesize("seven", voice="en+f3")
    assert torch.equal(first, again)


def test_threads_get_the_same_samples():
    expected, _ = espeak.synthesize("four", voice="en+m3")
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(espeak.synthesize("four", voice="en+m3")[0])) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3 and all(torch.equal(r, expected) for r in results)


def test_resampling_to_8k_keeps_the_duration():
    native, _ = espeak.synthesize("seven")
    wave, rate = espeak.synthesize("seven", sample_rate=8000)
    assert rate == 8000
    assert abs(wave.numel() - native.numel() * 8000 / 22050) <= 2


def test_pitch_and_rate_change_the_output():
    base, _ = espeak.synthesize("nine")
    higher, _ = espeak.synthesize("nine", pitch=80)
    faster, _ = espeak.synthesize("nine", rate_wpm=300)
    assert not torch.equal(base[: higher.numel()], higher[: base.numel()])
    assert faster.numel() < base.numel()


@pytest.mark.parametrize(
    ("voice", "words"),
    [("xx-nowhere", "no voice 'xx-nowhere'"), ("en+F3", "did you mean 'f3'"), ("en+nobody", "no voice variant")],
)
def test_unknown_voice_raises_with_a_list_of_voices(voice, words):
    with pytest.raises(BadInputError, match=words) as err:
        espeak.synthesize("seven", voice=voice)
    assert "en-us" in err.value.hint and "f3" in err.value.hint


@pytest.mark.parametrize("kwargs", [{"text": "  "}, {"text": "seven", "rate_wpm": 10}, {"text": "seven", "pitch": 101}])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(BadInputError):
        espeak.synthesize(**kwargs)
