import itertools

import pytest

from bot.rules.skp import (
    BERAKHLAK,
    NEEDS_COACHING,
    BehaviourRule,
    Predicate,
    Rating,
    predicate,
    summarise_behaviour,
)
from bot.rules.stages import MutationType, Stage, parse_mutation_type, parse_stage, timeline

A, S, B = Rating.DI_ATAS, Rating.SESUAI, Rating.DI_BAWAH


@pytest.mark.parametrize(
    ("work", "behaviour", "expected"),
    [
        (A, B, Predicate.KURANG),
        (A, S, Predicate.BAIK),
        (A, A, Predicate.SANGAT_BAIK),
        (S, B, Predicate.KURANG),
        (S, S, Predicate.BAIK),
        (S, A, Predicate.BAIK),
        (B, B, Predicate.SANGAT_KURANG),
        (B, S, Predicate.BUTUH_PERBAIKAN),
        (B, A, Predicate.BUTUH_PERBAIKAN),
    ],
)
def test_predicate_matrix(work, behaviour, expected):
    assert predicate(work, behaviour) is expected


def test_coaching_flags_the_three_low_predicates():
    assert {Predicate.BUTUH_PERBAIKAN, Predicate.KURANG, Predicate.SANGAT_KURANG} == NEEDS_COACHING


def test_majority_rule_with_ties_toward_sesuai():
    assert summarise_behaviour([A] * 4 + [S] * 3) is A
    assert summarise_behaviour([B] * 3 + [S] * 2 + [A] * 2) is B
    assert summarise_behaviour([A] * 3 + [B] * 3 + [S]) is S  # tie between A and B
    assert summarise_behaviour([A, A, B, B]) is S


def test_strict_rule():
    assert summarise_behaviour([A] * 6 + [B], BehaviourRule.STRICT) is B
    assert summarise_behaviour([A] * 4 + [S] * 3, BehaviourRule.STRICT) is A
    assert summarise_behaviour([A] * 3 + [S] * 4, BehaviourRule.STRICT) is S


def test_every_combination_of_seven_values_has_a_summary():
    for ratings in itertools.product(list(Rating), repeat=len(BERAKHLAK)):
        for rule in BehaviourRule:
            assert summarise_behaviour(ratings, rule) in Rating


def test_no_ratings_is_an_error():
    with pytest.raises(ValueError):
        summarise_behaviour([])


def test_timeline_has_pertek_only_between_governments():
    assert Stage.PERTEK_BKN not in timeline(external=False)
    path = timeline(external=True)
    assert path.index(Stage.PERTEK_BKN) == path.index(Stage.SK_TERBIT) - 1
    assert path[0] is Stage.DIUSULKAN and path[-1] is Stage.SELESAI


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        ("Pertimbangan TPK", Stage.PERTIMBANGAN_TPK),
        ("sk_terbit", Stage.SK_TERBIT),
        ("SK Terbit", Stage.SK_TERBIT),
        ("DIKEMBALIKAN", Stage.DIKEMBALIKAN),
        ("pertek bkn", Stage.PERTEK_BKN),
    ],
)
def test_stage_names_as_hr_types_them(text, stage):
    assert parse_stage(text) is stage


def test_unknown_stage_and_type():
    assert parse_stage("hampir selesai") is None
    assert parse_mutation_type("Mutasi antar-instansi") is MutationType.ANTAR_INSTANSI
    assert parse_mutation_type("Rotasi") is MutationType.ROTASI
    assert parse_mutation_type("pensiun") is None
