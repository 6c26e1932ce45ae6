"""Groups unplaced messages by similarity, most frequent first.

Families misspell, text and switch languages, so messages are compared by TF-IDF over character
n-grams within word boundaries (scikit-learn, which Rasa installs): "parkng", "parking" and
"estacionamiento del parking" land near each other without any model. Groups are formed by
average-linkage agglomerative clustering with a cosine distance threshold, so the number of
groups follows the data and one odd message stays alone rather than joining a loose group.

Each group's id is the smallest event id among its messages ("G1042"): new messages get larger
ids, so an id `review` printed stays valid for `review export` and `review mark` of the same
period while the group gains members.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import regex
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.nlu.language import fold
from bot.review.unplaced import Unplaced

# Cosine distance under which two groups merge (average linkage); chosen on typed variants of
# the same question (tests/test_review.py shows what it joins and keeps apart).
DISTANCE = 0.75
# Agglomerative clustering needs all pairwise distances: at most this many distinct texts are
# grouped (the newest); `Grouping.left_out` says how many more the period had.
MOST_DISTINCT = 3000

_NOT_WORD = regex.compile(r"[^\p{L}\p{N}\[\]]+")


@dataclass(frozen=True)
class Group:
    """Messages that ask much the same thing."""

    id: str
    messages: tuple[Unplaced, ...]

    @property
    def count(self) -> int:
        """How many messages the group has (repeats included)."""
        return len(self.messages)

    @property
    def example(self) -> str:
        """The group's most common text (the newest of equally common ones)."""
        counts = Counter(message.text for message in self.messages)
        return max(reversed(self.messages), key=lambda message: counts[message.text]).text

    @property
    def conversations(self) -> int:
        """In how many conversations the group's messages were typed."""
        return len({message.conversation for message in self.messages})

    def share(self, attribute: str) -> Counter[str]:
        """How the messages split by reason, channel or language."""
        return Counter(str(getattr(message, attribute)) for message in self.messages)

    @property
    def chosen(self) -> Counter[str]:
        """The topics families took from the offered ones, a hint for the label."""
        return Counter(message.chosen for message in self.messages if message.chosen)


@dataclass(frozen=True)
class Grouping:
    """The groups of a period, and how many distinct texts were too many to group."""

    groups: tuple[Group, ...]
    left_out: int = 0


def normalised(text: str) -> str:
    """The text compared: folded, punctuation and repeated spaces gone."""
    return " ".join(_NOT_WORD.sub(" ", fold(text)).split())


def group(messages: Sequence[Unplaced]) -> Grouping:
    """The messages' groups, largest first (then the most recent first)."""
    by_text: dict[str, list[Unplaced]] = {}
    for message in sorted(messages, key=lambda item: item.event_id, reverse=True):
        by_text.setdefault(normalised(message.text), []).append(message)
    texts = list(by_text)[:MOST_DISTINCT]
    left_out = len(by_text) - len(texts)
    labels = _cluster(texts)
    clusters: dict[int, list[Unplaced]] = {}
    for text, label in zip(texts, labels, strict=True):
        clusters.setdefault(int(label), []).extend(by_text[text])
    groups = [
        Group(f"G{min(m.event_id for m in members)}", tuple(sorted(members, key=_by_id)))
        for members in clusters.values()
    ]
    groups.sort(key=lambda item: (-item.count, -max(m.event_id for m in item.messages)))
    return Grouping(tuple(groups), left_out)


def _by_id(message: Unplaced) -> int:
    return message.event_id


def _cluster(texts: list[str]) -> np.ndarray:
    if len(texts) < 2:
        return np.zeros(len(texts), dtype=int)
    vectors = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=1
    ).fit_transform(texts)
    clustering = AgglomerativeClustering(
        n_clusters=None,
        distance_threshold=DISTANCE,
        affinity="cosine",
        linkage="average",
    )
    return clustering.fit_predict(vectors.toarray())
