"""Music data: the built-in corpora of music21, folders of MIDI / MusicXML / ABC, and downloadable collections.

``source`` is a registered dataset or a file or folder:

* ``builtin:bach-chorales`` — the 371 four-part chorales of J. S. Bach (Riemenschneider numbering) in
  music21's corpus (``corpus.chorales.Iterator``; 350 distinct files, as 21 are numbered twice); style
  label ``chorale``.
* ``builtin:oneill`` — the 2,009 Irish tunes of O'Neill's "Music of Ireland" (1850) in music21's corpus (ABC);
  style label ``irish``.
* ``builtin:folk`` — the 8,514 Essen folk songs (ABC, style ``folk``) and O'Neill's 1850 together.
* ``nottingham``, ``lakh-aligned``, ``maestro-midi`` — downloaded on first use (sha256-checked) into
  ``DATA_DIR/music/<name>/``
  (``DATA_DIR``: ``--data-dir``, else ``$GENLAB_DATA_DIR``, else ``~/.cache/genlab/data``), or read from a copy
  placed there by hand.
* a folder (searched recursively) or one file of ``.mid``/``.midi``/``.xml``/``.musicxml``/``.mxl``/``.abc``/
  ``.krn``; unreadable files are skipped and counted.

Parsing a corpus with music21 is slow, so every file's pieces are cached as JSON in
``DATA_DIR/music/cache/`` (keyed by the file's path, size and modification time): the second load reads only
the cache. The split into ``train`` / ``val`` / ``test`` (80/10/10 %) is fixed by piece: a piece's share
is decided by a hash of its group (seed 0): pieces sharing a title or the opening of their top voice's melody
(12 intervals, in any key) are one group, so different harmonisations or transcriptions of one tune (the
chorales set melodies several times under different BWV numbers; O'Neill's has tunes in two transcriptions)
always land in the same split.
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from genlab.core.config import Config
from genlab.core.data import DataInfo, DatasetSpec, parse_source, register_dataset
from genlab.core.download import data_root, download, local_copy_hint
from genlab.core.errors import BadInputError, DataError
from genlab.core.io import atomic_write_json, atomic_write_text
from genlab.core.optional import require
from genlab.core.registry import DATASETS
from genlab.music.io import SUFFIXES, read_pieces
from genlab.music.notes import ChordSymbol, Note, Piece
from genlab.music.tokenizers import (
    DEFAULT_STYLES,
    MelodyTokenizer,
    MusicTokenizer,
    REMITokenizer,
    time_signatures,
    transpositions,
)

FOLDER = "music"
SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = (0.8, 0.1)  # train, val; the rest is test
CACHE_VERSION = 2  # bump when the readers change what a file parses to
MUSIC21_LICENSE = (
    "music21 corpus (BSD-3-Clause software; encodings distributed with permission, some non-commercial only): "
    "see docs/data-licenses.md"
)


# --------------------------------------------------------------------------------------- the corpora
def music21_corpus_dir() -> Path:
    """The folder of music21's bundled corpus."""
    m21 = require("music21", "music", "the built-in music corpora")
    return Path(m21.__file__).parent / "corpus"


def chorale_files(data_dir: str | Path | None = None) -> list[Path]:
    """The chorale files in Riemenschneider order (371 numbers; the 21 chorales numbered twice are kept once).

    music21's iterator takes seconds to list them, so the list is cached beside the parsed pieces."""
    m21 = require("music21", "music", "the Bach chorales")
    listing = cache_dir(data_dir) / "chorale-files.json"
    try:
        data = json.loads(listing.read_text(encoding="utf-8"))
        if data["music21"] == m21.__version__ and all(Path(p).is_file() for p in data["files"]):
            return [Path(p) for p in data["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    names = [str(f) for f in m21.corpus.chorales.Iterator(returnType="filename") if f]  # "bach/bwv269"
    by_name = {f"bach/{p.stem}": p for p in (music21_corpus_dir() / "bach").iterdir() if p.suffix in (".mxl", ".xml")}
    files = list(dict.fromkeys(by_name[n] if n in by_name else Path(str(m21.corpus.getWork(n))) for n in names))
    atomic_write_json(listing, {"music21": m21.__version__, "files": [str(p) for p in files]})
    return files


def oneill_files() -> list[Path]:
    return sorted((music21_corpus_dir() / "oneills1850").glob("*.abc"))


def essen_files() -> list[Path]:
    return sorted((music21_corpus_dir() / "essenFolksong").glob("*.abc"))


def style_of(path: str | Path) -> str | None:
    """The style label of a piece read from ``path``: the music21 corpus collection it comes from, else None."""
    parts = Path(path).parts
    collection = parts[parts.index("corpus") + 1] if "corpus" in parts[:-1] else ""
    return {"essenFolksong": "folk", "oneills1850": "irish", "bach": "chorale"}.get(collection)


#: A downloadable collection: an archive (URL and sha256), or single files (``files``: paths under ``url`` with the
#: sha256 of each), unpacked or written into ``DATA_DIR/music/<name>/``.
@dataclass(frozen=True)
class Download:
    url: str
    archive: str | None
    sha256: str | None
    note: str
    files: tuple[tuple[str, str], ...] = ()


#: The Nottingham collection as cleaned by Jukedeck, read file by file at a fixed commit of their repository (its
#: branch archive is generated on request, so its bytes are not fixed; each file's are).
NOTTINGHAM_COMMIT = "0992bb6cd864f6d4b90d6663e08c0ef53ffaa08f"
NOTTINGHAM_FILES = (
    ("ashover.abc", "6586eea8dca53866b42721050d11fc1408bdb2cf31a902b41c5c13504139b164"),
    ("hpps.abc", "6d035c6972ac0c204ba79d8128e2d71978ece2214a29ffceeb3e053e27f17db5"),
    ("jigs.abc", "5bb6f621e443bde552540810e3ea53e53531fd22258736e338d795e7a5bdcaf5"),
    ("morris.abc", "cbf60b212c87748dea226c76b72a15db5b4f606bb35a580763e9cd8f7294e7da"),
    ("playford.abc", "070877bc37176e0dedbcd038268d6669399201cd7b58d88b4ab36127528f9c76"),
    ("reelsa-c.abc", "f92ed0e66024e0a5bb7d21fe3172cd50c3fb4cb7f642b4ec7cd5aa8ad0396da8"),
    ("reelsd-g.abc", "33f535569116ec8cfb530c112f4cdc3bfb7fc042c271e0317cf6458bad30dfae"),
    ("reelsh-l.abc", "cb701d4ffe6839cb7a5655bc21785ecb71a72ab63d8560f7be3856f6aedaf7e5"),
    ("reelsm-q.abc", "a99f2967cf47460bba70bae40cd355a220b537a87180131c6d9433750bc446a1"),
    ("reelsr-t.abc", "f80a2c0f37a49b9b0c748e922924d59c40d82758abc5b0f7fc9245d7fd563be0"),
    ("reelsu-z.abc", "d104d7d1bb83eb1ca18f6b944dc22cf9f7bfe5f955d07cd573615985f69c2c1f"),
    ("slip.abc", "da686b3a0de20aab38e64f8c8ec57edace980bab6450a6c388d79a2866e5b16a"),
    ("waltzes.abc", "ffa773d012756be17784ab4a84e0e4618f316be5c6f244f9d60c06b23cd812c6"),
    ("xmas.abc", "05ebc4b856c8c5186bb828641e8f88f723c109d47ba7e3f1e5048b536e091249"),
)

DOWNLOADS = {
    "nottingham": Download(
        f"https://raw.githubusercontent.com/jukedeck/nottingham-dataset/{NOTTINGHAM_COMMIT}/ABC_cleaned/", None, None,
        "Nottingham folk tunes (about 1,000 ABC tunes in 14 files, cleaned by Jukedeck), each file checked by sha256",
        files=NOTTINGHAM_FILES,
    ),
    "lakh-aligned": Download(
        "http://hog.ee.columbia.edu/craffel/lmd/lmd_aligned.tar.gz", "lmd_aligned.tar.gz",
        "2bf5400e82eba73204644946515489b68811e1e656b0cfd854efc14377f6e53b",
        "Lakh MIDI, the subset aligned to the Million Song Dataset (45,129 files, 272 MB; Raffel 2016)",
    ),
    "maestro-midi": Download(
        "https://storage.googleapis.com/magentadata/datasets/maestro/v3.0.0/maestro-v3.0.0-midi.zip",
        "maestro-v3.0.0-midi.zip", "70470ee253295c8d2c71e6d9d4a815189e35c89624b76d22fce5a019d5dde12c",
        "MAESTRO v3.0.0, MIDI only (1,276 piano performances, 58 MB; Hawthorne et al. 2019)",
    ),
}  # fmt: skip
DOWNLOAD_LICENSES = {
    "nottingham": "public-domain tunes; the ABC transcriptions as distributed by their editors",
    "lakh-aligned": "CC BY 4.0 (Colin Raffel)",
    "maestro-midi": "CC BY-NC-SA 4.0 (Google Magenta)",
}


def downloaded_files(name: str, data_dir: str | Path | None = None, fetch: bool = True) -> list[Path]:
    """The music files of downloadable collection ``name``, fetched (and unpacked) into ``DATA_DIR/music/name/``."""
    spec = DOWNLOADS[name]
    folder = data_root(data_dir) / FOLDER / name
    if spec.files:
        for rel, sha256 in spec.files:
            target = folder / rel
            if not target.is_file():
                if not fetch:
                    raise DataError(f"no copy of {name} in {folder}", local_copy_hint(spec.url + rel, target))
                download(spec.url + rel, target, sha256, desc=f"{name}: {rel}")
        return music_files(folder)
    files = music_files(folder) if folder.is_dir() else []
    if files:
        return files
    archive = folder / spec.archive
    if not archive.is_file():
        if not fetch:
            raise DataError(f"no copy of {name} in {folder}", local_copy_hint(spec.url, archive))
        download(spec.url, archive, spec.sha256, desc=name)
    _unpack(archive, folder)
    files = music_files(folder)
    if not files:
        raise DataError(f"{archive} holds no MIDI/MusicXML/ABC files", local_copy_hint(spec.url, archive))
    return files


def _unpack(archive: Path, folder: Path) -> None:
    """Extract a .zip or .tar.gz into ``folder``, refusing members that would land outside it."""
    root = folder.resolve()
    try:
        if archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as z:
                for member in z.namelist():
                    if not (root / member).resolve().is_relative_to(root):
                        raise DataError(f"{archive.name} has an unsafe member path: {member}")
                z.extractall(folder)
        else:
            with tarfile.open(archive) as t:
                t.extractall(folder, filter="data")
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as e:
        raise DataError(f"cannot unpack {archive}: {e}", "delete it and download it again") from None


def music_files(folder: Path) -> list[Path]:
    """Music files under ``folder`` (recursively, sorted; hidden files left out)."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith("."))  # fmt: skip


# --------------------------------------------------------------------------------------- the cache
def piece_to_json(piece: Piece) -> dict[str, Any]:
    """A piece as plain JSON (notes as ``[pitch, start, duration, velocity, voice]`` rows)."""
    return {
        "notes": [[n.pitch, n.start, n.duration, n.velocity, n.voice] for n in piece.notes],
        "chords": [[c.root, c.quality, c.start, c.duration] for c in piece.chords],
        "tempo": piece.tempo, "time_signature": list(piece.time_signature), "key": piece.key,
        "title": piece.title, "source": piece.source, "voices": piece.voices,
    }  # fmt: skip


def piece_from_json(data: dict[str, Any]) -> Piece:
    """The piece of :func:`piece_to_json`."""
    return Piece(
        [Note(*row) for row in data["notes"]], tempo=data["tempo"], time_signature=tuple(data["time_signature"]),
        key=data["key"], chords=[ChordSymbol(*row) for row in data["chords"]], title=data["title"],
        source=data["source"], voices=data["voices"],
    )  # fmt: skip


def cache_dir(data_dir: str | Path | None = None) -> Path:
    return data_root(data_dir) / FOLDER / "cache"


def read_files(files: list[Path], cache_path: Path | None) -> tuple[list[Piece], list[str], bool]:
    """Pieces of every file (through the JSON cache at ``cache_path``), the skipped files as ``"path: reason"``,
    and whether every file came from the cache. The cache is written every 50 parsed files, so an interrupted
    first load resumes where it stopped."""
    cache: dict[str, Any] = {}
    if cache_path is not None and cache_path.is_file():
        try:
            data = json.loads(cache_path.read_text(encoding="utf-8"))
            cache = data["files"] if data.get("version") == CACHE_VERSION else {}
        except (OSError, ValueError, KeyError, TypeError):
            cache = {}  # a damaged cache is rebuilt
    pieces: list[Piece] = []
    skipped: list[str] = []
    parsed = 0
    for path in files:
        stat = path.stat()
        stamp = [stat.st_size, stat.st_mtime_ns]
        entry = cache.get(str(path))
        if entry is None or entry.get("stamp") != stamp:
            try:
                entry = {"stamp": stamp, "pieces": [piece_to_json(p) for p in read_pieces(path)]}
            except BadInputError as e:
                entry = {"stamp": stamp, "error": e.message}
            except Exception as e:  # a parser bug on one file must not stop a corpus
                entry = {"stamp": stamp, "error": f"{type(e).__name__}: {e}"}
            cache[str(path)] = entry
            parsed += 1
            if cache_path is not None and parsed % 50 == 0:
                _write_cache(cache_path, cache)
        if "error" in entry:
            skipped.append(f"{path}: {entry['error']}")
        else:
            pieces += [piece_from_json(p) for p in entry["pieces"]]
    if cache_path is not None and parsed:
        _write_cache(cache_path, cache)
    return pieces, skipped, parsed == 0


def _write_cache(path: Path, files: dict[str, Any]) -> None:
    """The cache as compact JSON (an indented one of the chorales would be several times larger)."""
    atomic_write_text(path, json.dumps({"version": CACHE_VERSION, "files": files}, separators=(",", ":")))


# --------------------------------------------------------------------------------------- splits
def split_key(piece: Piece) -> str:
    """A piece's title in lower-case letters and digits (else its source): pieces sharing it share a split."""
    return re.sub(r"[^0-9a-z]+", " ", piece.title.lower()).strip() or piece.source


#: Melodic intervals of the top voice's opening that make two pieces "one tune" for the split.
INCIPIT_INTERVALS = 12


def incipit(piece: Piece) -> tuple[int, ...] | None:
    """The first :data:`INCIPIT_INTERVALS` melodic intervals of the top voice (voice 0; repeated notes merged):
    the same in every key and rhythm, so two harmonisations or transcriptions of a tune share it; ``None`` for a
    melody too short to tell tunes apart."""
    pitches: list[int] = []
    for n in sorted(piece.voice(0) or piece.notes, key=lambda n: (n.start, -n.pitch)):
        if not pitches or n.pitch != pitches[-1]:
            pitches.append(n.pitch)
        if len(pitches) > INCIPIT_INTERVALS:
            break
    if len(pitches) <= INCIPIT_INTERVALS:
        return None
    return tuple(b - a for a, b in zip(pitches, pitches[1:], strict=False))


def split_groups(pieces: list[Piece]) -> list[str]:
    """The split group of every piece: pieces are one group when they share a title (:func:`split_key`) or a
    melody opening (:func:`incipit`), transitively; a group is named by its smallest title. Grouping keeps a
    tune's other harmonisations (the chorales set several melodies more than once under different BWV numbers)
    and variants out of the held-out pieces of a model trained on one of them."""
    parent: dict[str, str] = {}

    def find(k: str) -> str:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    titles = [split_key(p) for p in pieces]
    first_title: dict[tuple[int, ...], str] = {}
    for title, piece in zip(titles, pieces, strict=True):
        find(title)
        opening = incipit(piece)
        if opening is None:
            continue
        other = first_title.setdefault(opening, title)
        a, b = find(title), find(other)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return [find(t) for t in titles]


def split_of(piece: Piece, seed: int = 0) -> str:
    """``train`` / ``val`` / ``test`` for a piece alone, from a hash of its :func:`split_key` (80/10/10 %)."""
    return _split_of_key(split_key(piece), seed)


def _split_of_key(key: str, seed: int) -> str:
    u = int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "big") / 2**64
    return "train" if u < SPLIT_FRACTIONS[0] else "val" if u < sum(SPLIT_FRACTIONS) else "test"


def split_pieces(pieces: list[Piece], split: str, seed: int = 0) -> list[Piece]:
    """The pieces of ``split``: each group of :func:`split_groups` goes to the split a hash of its name picks
    (80/10/10 %). When the hash leaves a split empty (a small folder), the groups are instead ranked by their hash
    and the last 10 % (at least one) go to test, the 10 % before them to val (from three groups on; fewer all
    train)."""
    groups = split_groups(pieces)
    keys = sorted(set(groups))
    by_hash = {k: _split_of_key(k, seed) for k in keys}
    if len(keys) >= 3 and set(by_hash.values()) != set(SPLITS):
        ordered = sorted(keys, key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())
        n_held = max(1, round((1 - SPLIT_FRACTIONS[0]) / 2 * len(keys)))
        by_hash = {k: "train" for k in ordered[: -2 * n_held]}
        by_hash.update({k: "val" for k in ordered[-2 * n_held : -n_held]})
        by_hash.update({k: "test" for k in ordered[-n_held:]})
    elif len(keys) < 3:
        by_hash = dict.fromkeys(keys, "train")
    return [p for p, g in zip(pieces, groups, strict=True) if by_hash[g] == split]


# --------------------------------------------------------------------------------------- loading
class MusicDataConfig(Config):
    """Which music to train on and how to write it as tokens."""

    source: str = Field("builtin:bach-chorales", min_length=1, description="built-in dataset, file or folder")
    data_dir: str | None = Field(None, description="folder of datasets and the parse cache ($GENLAB_DATA_DIR)")
    tokenizer: Literal["remi", "melody", "auto"] = Field(
        "auto", description="remi (polyphony), melody (one line + chords); auto: remi for several voices"
    )
    steps_per_beat: int = Field(4, ge=1, le=48, description="time grid: steps per quarter note (12 holds triplets)")
    transpose: bool = Field(True, description="augment training pieces by transposing −5…+6 semitones")
    max_bars: int | None = Field(None, ge=1, description="cut pieces into windows of this many bars")
    max_tokens: int | None = Field(None, ge=8, description="longest token sequence (longer ones are cut)")
    max_files: int | None = Field(None, ge=1, description="read at most this many files (quick trials)")
    split_seed: int = Field(0, description="seed of the hash that splits pieces into train/val/test")


@dataclass
class MusicDataInfo(DataInfo):
    """What was loaded; written to the run (``data.json``)."""

    source: str
    split: str
    pieces: int
    files: int
    notes: int
    n_skipped: int
    cached: bool
    load_seconds: float
    styles: dict[str, int] = field(default_factory=dict)
    data_dir: str | None = None
    data_config: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


@dataclass
class MusicData:
    """The pieces of one split, the style label of each (None when unknown), and what was loaded."""

    pieces: list[Piece]
    styles: list[str | None]
    info: MusicDataInfo
    config: MusicDataConfig

    def tokenizer(self) -> MusicTokenizer:
        """A tokenizer for these pieces: the configured kind, or for ``auto`` REMI when any piece has several
        voices and the melody tokenizer otherwise."""
        kind = self.config.tokenizer
        if kind == "auto":
            kind = "remi" if any((p.voices or 1) > 1 for p in self.pieces) else "melody"
        cls = REMITokenizer if kind == "remi" else MelodyTokenizer
        return cls(steps_per_beat=self.config.steps_per_beat, styles=DEFAULT_STYLES)

    def windows(
        self, augment: bool | None = None, pitch_range: tuple[int, int] = (0, 127)
    ) -> list[tuple[Piece, str | None]]:
        """(piece, style) pairs to encode: pieces cut into ``max_bars`` windows and, when ``augment`` (default:
        the config's ``transpose``, on the train split only), also transposed by −5…+6 semitones where every
        note stays within ``pitch_range``."""
        augment = self.config.transpose and self.info.split == "train" if augment is None else augment
        out = []
        for piece, style in zip(self.pieces, self.styles, strict=True):
            parts = [piece]
            if self.config.max_bars:
                n = self.config.max_bars
                parts = [piece.slice_bars(b, n) for b in range(0, max(piece.n_bars, 1), n)]
            for part in parts:
                if not part.notes:
                    continue
                out.append((part, style))
                if augment:
                    shifts = [s for s in range(-5, 7) if s]
                    out += [(p, style) for p in transpositions(part, shifts, pitch_range)]
        return out

    def token_sequences(self, tokenizer: MusicTokenizer, augment: bool | None = None) -> list[list[int]]:
        """Token ids of every window (see :meth:`windows`), cut to ``max_tokens`` (keeping ``<eos>`` last)."""
        limit = self.config.max_tokens
        rows = []
        for piece, style in self.windows(augment, tokenizer.pitch_range):
            ids = tokenizer.encode(piece, style=style if style in tokenizer.styles else None)
            if limit and len(ids) > limit:
                ids = ids[: limit - 1] + [tokenizer.eos_id]
            rows.append(ids)
        return rows


BUILTIN_FILES = {
    "builtin:bach-chorales": chorale_files,
    "builtin:oneill": lambda data_dir=None: oneill_files(),
    "builtin:folk": lambda data_dir=None: essen_files() + oneill_files(),
}


def source_files(source: str, data_dir: str | Path | None = None) -> tuple[list[Path], str]:
    """The files of ``source`` and the name of its cache file."""
    if source in BUILTIN_FILES:
        return BUILTIN_FILES[source](data_dir), source.split(":", 1)[1]
    if source in DOWNLOADS:
        return downloaded_files(source, data_dir), source
    path = Path(source).expanduser()
    if path.is_dir():
        files = music_files(path)
        if not files:
            raise DataError(f"{path} holds no MIDI/MusicXML/ABC files", f"the readable suffixes: {', '.join(SUFFIXES)}")
    elif path.is_file():
        files = [path]
    else:
        names = ", ".join(DATASETS.names(modality="music"))
        raise DataError(f"'{source}' is neither a music dataset nor a file or folder", f"use one of {names}, or a path")
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    return files, f"{path.name or 'root'}-{digest}"


def load_music_data(source: str | None = None, cfg: MusicDataConfig | None = None, split: str = "train") -> MusicData:
    """The pieces of ``split`` (train/val/test) of ``source`` (default: ``cfg.source``), parsed once and cached."""
    cfg = cfg or MusicDataConfig()
    source = source or cfg.source
    name, named_split = parse_source(source)
    split = named_split or split
    if split not in SPLITS:
        raise DataError(f"music data has no split '{split}'", f"its splits are: {', '.join(SPLITS)}")
    began = time.perf_counter()
    files, cache_name = source_files(name, cfg.data_dir)
    if cfg.max_files:
        files = files[: cfg.max_files]
    pieces, skipped, cached = read_files(files, cache_dir(cfg.data_dir) / f"{cache_name}.json")
    if not pieces:
        raise DataError(f"no piece of {source} could be read ({len(skipped)} file(s) skipped)",
                        skipped[0] if skipped else "give MIDI, MusicXML or ABC files")  # fmt: skip
    writable = set(time_signatures())  # what the tokenisers can write (at most 8 quarter notes a bar)
    for p in pieces:
        if p.time_signature not in writable:
            num, den = p.time_signature
            skipped.append(f"{p.source} ({p.title or 'untitled'}): time signature {num}/{den} has no token")
    pieces = [p for p in pieces if p.time_signature in writable]
    chosen = split_pieces(pieces, split, cfg.split_seed)
    styles = [style_of(p.source) for p in chosen]
    counts: dict[str, int] = {}
    for s in styles:
        counts[s or "none"] = counts.get(s or "none", 0) + 1
    recorded = cfg.to_dict()
    if name not in DATASETS:
        recorded["source"] = str(Path(name).expanduser().resolve())
    info = MusicDataInfo(
        source=source, split=split, pieces=len(chosen), files=len(files), notes=sum(len(p.notes) for p in chosen),
        n_skipped=len(skipped), cached=cached, load_seconds=round(time.perf_counter() - began, 3), styles=counts,
        data_dir=cfg.data_dir, data_config=recorded, skipped=skipped,
    )  # fmt: skip
    return MusicData(chosen, styles, info, cfg)


def _loader(source: str):
    def load(split: str = "train", data_dir: str | None = None, cfg: MusicDataConfig | None = None) -> MusicData:
        cfg = (cfg or MusicDataConfig()).model_copy(update={"data_dir": data_dir} if data_dir else {})
        return load_music_data(source, cfg, split)

    return load


for _name, _description in (
    ("builtin:bach-chorales", "371 four-part chorales of J. S. Bach (music21 corpus)"),
    ("builtin:oneill", "2,009 Irish tunes of O'Neill's Music of Ireland, 1850 (music21 corpus, ABC)"),
    ("builtin:folk", "8,514 Essen folk songs and the 2,009 tunes of O'Neill's 1850 (music21 corpus, ABC)"),
):
    register_dataset(DatasetSpec(_name, "music", _loader(_name), SPLITS, _description, MUSIC21_LICENSE))
for _name, _spec in DOWNLOADS.items():
    register_dataset(
        DatasetSpec(
            _name,
            "music",
            _loader(_name),
            SPLITS,
            _spec.note,
            DOWNLOAD_LICENSES[_name],
            extras={"url": _spec.url, "sha256": _spec.sha256, "files": dict(_spec.files)},
        )  # fmt: skip
    )
