"""Chinese search without loading jieba's dictionary on every build: each segmentation
Material's search asks jieba for is kept, by content, in the state folder.

mkdocs-material segments Chinese text with jieba when it is installed, so that the search
finds words in the middle of a sentence. jieba first loads its dictionary (about half a
second, on every build, whatever changed). :class:`SegmentCache` stands in for the ``jieba``
module inside Material's search plugin and answers ``cut`` from the cache. The cache is keyed
by everything the answer depends on: jieba's version and files, the dictionaries' contents
and the order they were loaded in, the call's options and the text; one cache file per
dictionary setup, holding what the last build asked for.

A text not segmented before (a sentence just written) is segmented by jieba itself, with
its own code and its own dictionary, read in pieces: the prefix dictionary jieba would load
whole is kept split by each word's first character (:class:`PrefixDictionary`, written once
per dictionary), and only the pieces for the characters of the new text are read. The
answer is jieba's, to the token.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from d2l_compiler.engine.publish.kept_answers import KeptAnswers

CACHE_FOLDER = "search-segments"  # inside the engine's state folder
_PIECES = 256  # the prefix dictionary's pieces (by first character)


def _file_identity(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "blake2b").hexdigest()[:32]
    except OSError:
        return "missing"


def _piece(word: str) -> int:
    return ord(word[0]) % _PIECES if word else 0


class PrefixDictionary:
    """jieba's prefix dictionary (each word and each prefix of a word -> its frequency),
    read from ``folder`` one piece at a time as words are looked up; words added (a user
    dictionary) stay in memory."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._pieces: dict[int, dict[str, int]] = {}

    def _of(self, word: str) -> dict[str, int]:
        number = _piece(word)
        piece = self._pieces.get(number)
        if piece is None:
            with open(self._folder / f"{number}.marshal", "rb") as handle:
                piece = self._pieces[number] = marshal.load(handle)
        return piece

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word in self._of(word)

    def __getitem__(self, word: str) -> int:
        return self._of(word)[word]

    def get(self, word: str, default: int | None = None) -> int | None:
        """The frequency of ``word`` (0 for a mere prefix), else ``default``."""
        return self._of(word).get(word, default)

    def __setitem__(self, word: str, frequency: int) -> None:
        self._of(word)[word] = frequency

    @staticmethod
    def write(folder: Path, frequencies: dict[str, int], total: int) -> None:
        """Split jieba's ``(FREQ, total)`` into ``folder`` (written beside, then moved in)."""
        pieces: list[dict[str, int]] = [{} for _ in range(_PIECES)]
        for word, frequency in frequencies.items():
            pieces[_piece(word)][word] = frequency
        staging = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
        staging.mkdir(parents=True, exist_ok=True)
        for number, piece in enumerate(pieces):
            (staging / f"{number}.marshal").write_bytes(marshal.dumps(piece))
        (staging / "total").write_text(str(total), encoding="utf-8")
        try:
            os.replace(staging, folder)
        except OSError:  # written meanwhile by another build: theirs is the same
            for file in staging.iterdir():
                file.unlink()
            staging.rmdir()


class SegmentCache:
    """``jieba`` as Material's search plugin uses it (``set_dictionary``, ``load_userdict``,
    ``cut``), with ``cut`` answered from a cache kept in ``folder``; anything else is passed
    to jieba itself (after the dictionaries it was asked to load)."""

    def __init__(self, jieba: ModuleType, folder: Path) -> None:
        self._jieba, self._folder = jieba, folder
        package = os.path.dirname(jieba.__file__ or "")
        # what jieba answers with: its version and its own files (an edited dictionary counts)
        self._setup: list[str] = [str(getattr(jieba, "__version__", "")), *(
            _file_identity(os.path.join(package, name))
            for name in ("__init__.py", "dict.txt", "finalseg/prob_emit.p"))]
        self._pending: list[tuple[str, Any]] = []  # dictionary calls not yet made to jieba
        self._usable = True  # False after a call whose effect cannot be keyed
        self._answers: KeptAnswers | None = None  # for the setup as it stands
        self._fresh_tokenizer()

    def _fresh_tokenizer(self) -> None:
        """jieba as a new process has it: an earlier build in this process (the preview)
        may have loaded other dictionaries, whose words would stay."""
        tokenizer = self._jieba.dt
        tokenizer.FREQ, tokenizer.total, tokenizer.user_word_tag_tab = {}, 0, {}
        tokenizer.dictionary, tokenizer.initialized = self._jieba.DEFAULT_DICT, False
        self._jieba.finalseg.Force_Split_Words.clear()

    def set_dictionary(self, path: str) -> None:
        """Use another main dictionary (keyed by its content)."""
        self._setup.append(f"dictionary:{_file_identity(path)}")
        self._pending.append(("set_dictionary", path))
        self._answers = None

    def load_userdict(self, f: Any) -> None:
        """Add a user dictionary (keyed by its content; a file object cannot be keyed, and
        turns the cache off)."""
        if isinstance(f, (str, os.PathLike)):
            self._setup.append(f"user:{_file_identity(os.fspath(f))}")
            self._pending.append(("load_userdict", f))
            self._answers = None
        else:
            self._usable = False
            self._jieba_ready().load_userdict(f)

    def cut(self, sentence: Any, cut_all: bool = False, HMM: bool = True,  # noqa: N803 - jieba's name
            **options: Any) -> list[str]:
        """jieba's segmentation of ``sentence``, from the cache when it was made before."""
        if not self._usable or options:
            return list(self._jieba_ready().cut(sentence, cut_all=cut_all, HMM=HMM, **options))
        text = sentence.decode("utf-8") if isinstance(sentence, bytes) else str(sentence)
        question = f"{int(cut_all)}{int(HMM)}{text}"
        answers = self._kept_answers()
        found = answers.get(question)
        if found is None:
            found = list(self._jieba_ready().cut(text, cut_all=cut_all, HMM=HMM))
            answers.put(question, found)
        return found

    def __getattr__(self, name: str) -> Any:  # anything else: jieba itself, set up
        self._usable = False  # a call the cache does not know may change what cut answers
        return getattr(self._jieba_ready(), name)

    def _jieba_ready(self) -> ModuleType:
        for call, argument in self._pending:
            if call == "load_userdict":
                self._dictionary_ready()
            getattr(self._jieba, call)(argument)
        self._pending.clear()
        self._dictionary_ready()
        return self._jieba

    def _dictionary_ready(self) -> None:
        """Give jieba its prefix dictionary in pieces (written the first time)."""
        tokenizer = self._jieba.dt
        if tokenizer.initialized:
            return
        if tokenizer.dictionary == self._jieba.DEFAULT_DICT:
            identity = self._setup[2]  # the packaged dict.txt
        else:
            identity = _file_identity(tokenizer.dictionary)
        folder = self._folder / f"prefix-{self._setup[0]}-{identity}"
        if not (folder / "total").is_file():
            PrefixDictionary.write(folder, *tokenizer.gen_pfdict(tokenizer.get_dict_file()))
        tokenizer.FREQ = PrefixDictionary(folder)
        tokenizer.total = int((folder / "total").read_text(encoding="utf-8"))
        tokenizer.initialized = True

    def _kept_answers(self) -> KeptAnswers:
        if self._answers is None:  # one file per setup (versions, dictionaries, their order)
            name = hashlib.sha256("\0".join(self._setup).encode()).hexdigest()[:16]
            self._answers = KeptAnswers(self._folder / f"{name}.json")
        return self._answers

    def save(self) -> None:
        """Keep what this build asked for (only that: the cache stays the size of the site)."""
        if self._usable and self._answers is not None:
            self._answers.save()


def cache_segments(search_module: ModuleType, folder: Path) -> SegmentCache | None:
    """Put a :class:`SegmentCache` in place of ``jieba`` in Material's search plugin module
    (``material.plugins.search.plugin``); None when it has no jieba (it then segments
    nothing). An earlier stand-in is replaced, so the cache follows the current project."""
    current = getattr(search_module, "jieba", None)
    if current is None:
        return None
    jieba = current._jieba if isinstance(current, SegmentCache) else current
    cache = SegmentCache(jieba, folder)
    search_module.jieba = cache
    return cache
