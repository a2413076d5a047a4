#!/usr/bin/env python3
"""Write the small built-in sample data sets of gp_mrc (SQuAD v1.1 layout).

Every paragraph, name and fact here is invented by this script: short encyclopedic paragraphs
about fictional people, towns, rivers, companies and inventions, built from sentence templates,
with 2-4 templated questions per paragraph whose answers are exact spans of the paragraph.

    python data/make_sample.py            # (re)writes data/sample_{train,dev}.json and data/sample_zh_{train,dev}.json
    python data/make_sample.py --check    # only validate the files already there

The output is deterministic (fixed seed, Python standard library only), so regenerating gives
byte-identical files. Train and dev are about different invented entities: no paragraph, and no
person, town, river or company name, is shared between them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys

SEED = 20240611
VERSION = "gp_mrc-sample-1"
HERE = os.path.dirname(os.path.abspath(__file__))

# Target sizes in questions: generation stops at the first paragraph that reaches each target.
EN_TRAIN_QUESTIONS = 500
EN_DEV_QUESTIONS = 150
ZH_TRAIN_QUESTIONS = 150
ZH_DEV_QUESTIONS = 50

_SLOT = re.compile(r"\{(\w+)\}")


# --------------------------------------------------------------------------------------------
# Paragraph builder: sentences from templates, remembering where each slot value was put.
# --------------------------------------------------------------------------------------------

class Paragraph:
    def __init__(self, sep: str = " "):
        self.sep = sep
        self.text = ""
        self.spans: dict[str, tuple[int, str]] = {}  # slot -> (start, value) of its first use

    def add(self, template: str, values: dict[str, str]) -> None:
        if self.text:
            self.text += self.sep
        last = 0
        pieces = []
        pos = len(self.text)
        for m in _SLOT.finditer(template):
            lit = template[last:m.start()]
            pieces.append(lit)
            pos += len(lit)
            val = values[m.group(1)]
            self.spans.setdefault(m.group(1), (pos, val))
            pieces.append(val)
            pos += len(val)
            last = m.end()
        pieces.append(template[last:])
        sentence = "".join(pieces)
        if sentence and sentence[0].islower():
            sentence = sentence[0].upper() + sentence[1:]  # a sentence starting with "he"/"she"
        self.text += sentence

    def words(self) -> int:
        return len(self.text.split())


def answers_for(par: Paragraph, slot: str, alt_prefixes=(), alt_trim: str | None = None,
                rng: random.Random | None = None, p_alt: float = 1.0) -> list[dict]:
    """The gold answer for `slot` (its exact span) and maybe one extra gold variant.

    alt_prefixes: if the paragraph has e.g. "in " right before the answer, "in 1875" is a second gold.
    alt_trim: a second gold that is a prefix of the answer (e.g. "412 kilometres" of "412 kilometres (256 mi)").
    """
    start, text = par.spans[slot]
    assert par.text[start:start + len(text)] == text
    golds = [{"text": text, "answer_start": start}]
    if rng is not None and rng.random() >= p_alt:
        return golds
    if alt_trim and text.startswith(alt_trim) and alt_trim != text:
        golds.append({"text": alt_trim, "answer_start": start})
        return golds
    for prefix in alt_prefixes:
        if start >= len(prefix) and par.text[start - len(prefix):start] == prefix:
            golds.append({"text": prefix + text, "answer_start": start - len(prefix)})
            break
    return golds


# --------------------------------------------------------------------------------------------
# English vocabulary (all invented or generic)
# --------------------------------------------------------------------------------------------

EN_FIRST_M = ["Aldric", "Bertram", "Casimir", "Dorian", "Emeric", "Fenwick", "Gideon", "Halvard", "Ivo",
              "Jasper", "Konrad", "Lucan", "Matthias", "Nestor", "Osric", "Piers", "Quentin", "Rupert",
              "Silas", "Tobias", "Ulric", "Viggo", "Wendel", "Anselm", "Benedikt", "Cyril", "Dietmar",
              "Edmund", "Florian", "Gregor", "Henrik", "Isidor", "Jonas", "Leopold", "Marius", "Niklas",
              "Oswin", "Paskal", "Roland", "Severin", "Theodor", "Valentin", "Werner", "Albin", "Crispin"]
EN_FIRST_F = ["Adela", "Brigitta", "Cordelia", "Dagny", "Elspeth", "Fenna", "Greta", "Hedda", "Ilse",
              "Jorunn", "Klara", "Linnea", "Maren", "Nelle", "Odile", "Petra", "Rosalind", "Sigrid",
              "Thea", "Ursula", "Vesna", "Wilma", "Agathe", "Beatrix", "Clemence", "Dorota", "Edda",
              "Freya", "Gisela", "Helka", "Ingrid", "Juliska", "Kaja", "Liesel", "Mirela", "Nadja",
              "Ottilie", "Philippa", "Ronja", "Solveig", "Tamsin", "Verena", "Yvette", "Zora", "Annika"]

NAME_HEADS = ["Al", "Bran", "Cor", "Dal", "Eth", "Fen", "Gar", "Hal", "Ister", "Jor", "Kel", "Lun", "Mor",
              "Nor", "Os", "Pell", "Quar", "Ros", "Sten", "Tal", "Ulm", "Var", "Wen", "Yar", "Zel", "Ash",
              "Bel", "Crom", "Dun", "Elm", "Fal", "Grim", "Hol", "Kir", "Lam", "Mar", "Net", "Orl", "Pim",
              "Rav", "Sel", "Tor", "Vol", "Wyr", "Brem", "Cal", "Drav", "Ferr", "Gol", "Hes"]
SURNAME_TAILS = ["ridge", "wick", "mont", "ard", "ell", "hurst", "by", "ton", "ling", "ley", "dor", "ess",
                 "ane", "ov", "ster", "mann", "quist", "ssen", "berg", "well", "croft", "lowe", "den", "rick"]
TOWN_TAILS = ["ford", "holm", "vale", "bridge", "stead", "haven", "mouth", "field", "burg", "wick", "thorpe",
              "minster", "port", "gate", "moor", "dale"]
RIVER_TAILS = ["a", "ent", "ire", "ow", "el", "is", "ava", "une", "ess", "wyn", "ander", "ith"]
REGION_TAILS = ["land", "mark", "ia", "shire", "ern", "avia"]
REGION_KINDS = ["Valley", "Lowlands", "Uplands", "Basin", "Coast", "Plain"]
HILL_KINDS = ["Hills", "Mountains", "Heights", "Fells", "Peaks"]
WATER_KINDS = [("Lake", "lake"), ("Bay", "bay"), ("Sea", "sea")]

OCCUPATIONS = [("clockmaker", "clockmakers"), ("botanist", "botanists"), ("engineer", "engineers"),
               ("painter", "painters"), ("cartographer", "cartographers"), ("chemist", "chemists"),
               ("shipbuilder", "shipbuilders"), ("composer", "composers"), ("astronomer", "astronomers"),
               ("glassblower", "glassblowers"), ("printer", "printers"), ("architect", "architects"),
               ("violin maker", "violin makers"), ("surveyor", "surveyors"), ("physician", "physicians"),
               ("weaver", "weavers"), ("bookbinder", "bookbinders"), ("geologist", "geologists"),
               ("locksmith", "locksmiths"), ("mathematician", "mathematicians")]
DEVICES = [("folding telescope", "to watch ships far out at sea"),
           ("brass rain gauge", "to measure rainfall on farms"),
           ("pedal-driven loom", "to weave wool at home"),
           ("double-wick lamp", "to light mines and tunnels"),
           ("lever press", "to print posters and handbills"),
           ("spring-wound fan", "to cool rooms in summer"),
           ("water-powered saw", "to cut timber for ships"),
           ("pocket sextant", "to find the position of small boats"),
           ("steam-heated kiln", "to fire porcelain at an even heat"),
           ("copper still", "to distil herbal medicines"),
           ("wind-up music box", "to teach children simple songs"),
           ("glass hive", "to watch bees at work"),
           ("tide clock", "to predict high and low water"),
           ("seed drill", "to sow grain in straight rows"),
           ("hand-cranked pump", "to drain flooded cellars"),
           ("iron bread oven", "to bake bread for a whole village"),
           ("signal lantern", "to send messages between lighthouses"),
           ("bicycle brake", "to stop bicycles on steep roads"),
           ("cable ferry", "to carry carts across the river"),
           ("weather vane with a compass", "to show the direction of the wind")]
MATERIALS = ["brass", "oak", "cast iron", "copper", "glass", "walnut wood", "tin", "bronze", "steel", "pine"]
PRODUCTS = ["railway lanterns", "copper kettles", "bicycles", "wool blankets", "pocket watches",
            "typewriters", "canvas tents", "porcelain plates", "farm tractors", "radio sets",
            "marine engines", "sewing machines", "wall clocks", "leather boots", "glass bottles",
            "paper and ink", "fishing nets", "church bells", "iron stoves", "barometers"]
TOWN_GOODS = ["cheese", "woollen cloth", "apple cider", "pottery", "smoked fish", "lace", "honey",
              "salt", "rope", "beer", "slate", "linen", "pewter", "glassware", "timber"]
COLOURS = ["red", "blue", "green", "yellow", "white", "black", "orange", "purple", "grey", "gold"]
ANIMALS = ["heron", "fox", "stag", "owl", "salmon", "swan", "bear", "eagle", "otter", "wolf", "hare", "crane"]
AWARD_KINDS = ["Medal", "Prize", "Cross", "Award"]
BOOK_PATTERNS = ["On the Measure of {x}", "A Short History of {x}", "Notes on {x}", "The Art of {x}",
                 "Letters from {town}", "A Guide to {x}", "Making {x}", "Travels along the {river}"]
BOOK_TOPICS = ["Rain", "Clocks", "Glass", "Rivers", "Bridges", "Colour", "Stars", "Maps", "Ships",
               "Gardens", "Bells", "Wool", "Lamps", "Salt", "Stone"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
ORDINALS = ["eldest", "second", "third", "youngest"]
INST_KINDS = ["School of Design", "Polytechnic", "Academy of Sciences", "Technical College", "Institute"]


class NamePool:
    """Unique invented names, drawn in a fixed order so that train and dev never share one."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def _new(self, make) -> str:
        for _ in range(10000):
            name = make()
            key = name.lower()
            if key not in self.used:
                self.used.add(key)
                return name
        raise RuntimeError("name pool exhausted")

    def stem(self) -> str:
        return self._new(lambda: self.rng.choice(NAME_HEADS) + self.rng.choice(SURNAME_TAILS))

    def surname(self) -> str:
        return self.stem()

    def town(self) -> str:
        return self._new(lambda: self.rng.choice(NAME_HEADS) + self.rng.choice(TOWN_TAILS))

    def river(self) -> str:
        return self._new(lambda: self.rng.choice(NAME_HEADS) + self.rng.choice(RIVER_TAILS))

    def region(self) -> str:
        return self._new(lambda: self.rng.choice(NAME_HEADS) + self.rng.choice(REGION_TAILS))

    def person(self, female: bool | None = None) -> tuple[str, str, bool]:
        if female is None:
            female = self.rng.random() < 0.5
        first = self.rng.choice(EN_FIRST_F if female else EN_FIRST_M)
        sur = self.surname()
        return f"{first} {sur}", sur, female


def fmt_int(n: int) -> str:
    return f"{n:,}"


def fmt_date(rng: random.Random, year: int) -> str:
    day, month = rng.randint(1, 28), rng.choice(MONTHS)
    return f"{day} {month} {year}" if rng.random() < 0.6 else f"{month} {day}, {year}"


# --------------------------------------------------------------------------------------------
# English paragraphs. Each returns (Paragraph, list of (question, answers)).
# Question types are (slot, [phrasings], answer options); 2-4 are asked per paragraph.
# --------------------------------------------------------------------------------------------

YEAR_ALTS = ("in ", "In ")


def ask(rng: random.Random, par: Paragraph, qtypes: list[tuple], k: int) -> list[tuple[str, list[dict]]]:
    qtypes = [qt for qt in qtypes if qt[0] in par.spans]  # e.g. no occupation question if only the plural was used
    chosen = rng.sample(qtypes, min(k, len(qtypes)))
    out = []
    for slot, phrasings, opts in chosen:
        q = rng.choice(phrasings)
        out.append((q, answers_for(par, slot, rng=rng, **opts)))
    return out


def n_questions(rng: random.Random) -> int:
    return rng.choices([2, 3, 4], weights=[2, 5, 3])[0]


def person_paragraph(rng, names, world) -> tuple[Paragraph, list]:
    name, sur, female = names.person()
    he, his, man = ("she", "her", "woman") if female else ("he", "his", "man")
    occ, occ_pl = rng.choice(OCCUPATIONS)
    birth_year = rng.randint(1760, 1900)
    ys = rng.sample(range(birth_year + 18, birth_year + 60), 4)
    iy, cy, ay, my = ys
    death_year = rng.randint(max(ys) + 1, birth_year + 92)
    birthplace, study_town, death_place = rng.sample(world["towns"], 3)
    teacher, teacher_sur, _ = names.person()
    father = f"{rng.choice(EN_FIRST_M)} {sur}"
    mother_first = rng.choice(EN_FIRST_F)
    spouse, _, _ = names.person(female=not female)
    device, purpose = rng.choice(DEVICES)
    company = f"{sur} & {rng.choice(['Sons', 'Daughters', 'Partners', 'Company'])}"
    product = rng.choice(PRODUCTS)
    award = f"{rng.choice(world['towns'])} {rng.choice(AWARD_KINDS)}"
    book = rng.choice(BOOK_PATTERNS).format(x=rng.choice(BOOK_TOPICS), town=birthplace, river=world["river"] + " River")
    inst = f"{study_town} {rng.choice(INST_KINDS)}"
    v = dict(name=name, sur=sur, he=he, He=he.capitalize(), his=his, man=man, occ=occ, occ_pl=occ_pl, region=world["region"],
             birth_year=str(birth_year), death_year=str(death_year), birth_date=fmt_date(rng, birth_year),
             birthplace=birthplace, study_town=study_town, death_place=death_place, teacher=teacher,
             teacher_occ=rng.choice(OCCUPATIONS)[0], father=father, father_occ=rng.choice(OCCUPATIONS)[0],
             mother=f"{mother_first} {rng.choice(['Hale', 'Brandt', 'Orvik', 'Lindqvist', 'Marsh'])}",
             ordinal=rng.choice(ORDINALS), spouse=spouse, spouse_occ=rng.choice(OCCUPATIONS)[0],
             marriage_year=str(my), device=device, a_device=("an " if device[0] in "aeiou" else "a ") + device,
             purpose=purpose, inv_year=str(iy), company=company, product=product, company_year=str(cy),
             award=award, award_year=str(ay), book=book, inst=inst)
    par = Paragraph()
    intro = rng.randrange(4)
    death_in_intro = intro == 0
    if intro == 0:
        par.add("{name} ({birth_year}–{death_year}) was a {occ} from {birthplace} in the {region} region.", v)
    elif intro == 1:
        par.add("{name} was a {occ} who was born in {birthplace} in {birth_year}.", v)
    elif intro == 2:
        par.add("Born in {birthplace} on {birth_date}, {name} became one of the best-known {occ_pl} of {region}.", v)
    else:
        par.add("{name} was born on {birth_date} in the town of {birthplace}. {He} later worked as a {occ}.", v)
    birth_slot = "birth_date" if intro in (2, 3) else "birth_year"
    qtypes = [
        (birth_slot, ["When was {name} born?", "In what year was {name} born?", "When was {sur} born?",
                      "What year was {sur} born in?", "{name} was born in which year?"], dict(alt_prefixes=YEAR_ALTS + ("on ",), p_alt=0.5)),
        ("birthplace", ["Where was {name} born?", "In which town was {sur} born?", "What is the birthplace of {name}?",
                        "Which town was {name} born in?"], {}),
        ("occ", ["What was {name}'s occupation?", "What did {sur} work as?", "What was {name}'s profession?",
                 "What kind of work did {sur} do?"], dict(alt_prefixes=("a ", "an "), p_alt=0.0)),
    ]
    facts = []
    facts.append(("family", lambda: par.add("{he} was the {ordinal} child of {father}, a {father_occ}, and {mother}.", v),
                  [("father", ["Who was {name}'s father?", "What was the name of {sur}'s father?",
                               "Who was the father of {name}?"], {})]))
    facts.append(("teacher", lambda: par.add(rng.choice([
        "As a young {man}, {he} studied under the {teacher_occ} {teacher} at the {inst}.",
        "{sur} was trained by {teacher} at the {inst}.",
        "{he} learned the trade from {teacher}, who taught at the {inst}."]), v),
        [("teacher", ["Who taught {name}?", "Under whom did {sur} study?", "Who trained {name}?",
                      "Who was {sur}'s teacher?"], {}),
         ("inst", ["Where did {name} study?", "At which school did {sur} study?",
                   "Which institution did {name} attend?"], dict(alt_prefixes=("the ",), p_alt=0.0))]))
    facts.append(("invention", lambda: par.add(rng.choice([
        "In {inv_year}, {sur} invented {a_device}, which was used {purpose}.",
        "{sur}'s best-known invention, {a_device} built in {inv_year}, was used {purpose}.",
        "{he} designed {a_device} in {inv_year}; it was used {purpose}."]), v),
        [("a_device", ["What did {name} invent?", "What did {sur} invent?", "Which device did {name} invent?",
                       "What is {sur} known for inventing?"], dict(alt_trim=None)),
         ("inv_year", ["When did {sur} invent the {device}?", "In what year did {name} invent the {device}?",
                       "When was the {device} of {sur} built?"], dict(alt_prefixes=YEAR_ALTS, p_alt=0.5)),
         ("purpose", ["What was the {device} used for?", "What was {sur}'s {device} used for?",
                      "For what purpose was the {device} used?"], {})]))
    facts.append(("company", lambda: par.add(rng.choice([
        "In {company_year}, {he} founded {company}, a firm that made {product}.",
        "{sur} set up the firm {company} in {company_year} to make {product}."]), v),
        [("company", ["What company did {name} found?", "Which firm did {sur} set up?",
                      "What was the name of the firm founded by {name}?"], {}),
         ("product", ["What did {company} make?", "What did the firm {company} produce?",
                      "What products did {sur}'s firm make?"], {}),
         ("company_year", ["When did {name} found {company}?", "In what year was {company} founded?"],
          dict(alt_prefixes=YEAR_ALTS, p_alt=0.5))]))
    facts.append(("award", lambda: par.add(rng.choice([
        "{he} received the {award} in {award_year}.",
        "In {award_year}, {sur} was given the {award} for {his} work."]), v),
        [("award", ["What award did {name} receive?", "Which prize was {sur} given?",
                    "What honour did {name} receive?"], dict(alt_prefixes=("the ",), p_alt=0.0)),
         ("award_year", ["When did {sur} receive the {award}?", "In which year was {name} given the {award}?"],
          dict(alt_prefixes=YEAR_ALTS, p_alt=0.5))]))
    facts.append(("book", lambda: par.add(rng.choice([
        "{he} also wrote a book titled \"{book}\".",
        "{his} book \"{book}\" was widely read in {region}."]), v),
        [("book", ["What book did {name} write?", "What was the title of {sur}'s book?",
                   "What is the name of the book written by {name}?"], {})]))
    facts.append(("spouse", lambda: par.add(rng.choice([
        "In {marriage_year}, {sur} married {spouse}, a {spouse_occ}.",
        "{he} married the {spouse_occ} {spouse} in {marriage_year}."]), v),
        [("spouse", ["Who did {name} marry?", "Whom did {sur} marry?", "Who was {name}'s spouse?"], {}),
         ("marriage_year", ["When did {sur} marry?", "In what year did {name} get married?"],
          dict(alt_prefixes=YEAR_ALTS, p_alt=0.5))]))
    rng.shuffle(facts)
    target = rng.randint(66, 100)
    for _, add, qs in facts:
        if par.words() >= target:
            break
        add()
        qtypes.extend(qs)
    if death_in_intro:
        par.add(rng.choice(["{sur} died in {death_place}.", "{he} spent {his} last years in {death_place}, where {he} died."]), v)
    else:
        par.add(rng.choice(["{sur} died in {death_place} in {death_year}.",
                            "{he} spent {his} last years in {death_place} and died there in {death_year}.",
                            "{he} died in {death_year} at {his} home in {death_place}."]), v)
    qtypes.append(("death_year", ["When did {name} die?", "In what year did {sur} die?", "What year did {name} die in?",
                                  "When did {sur} pass away?"], dict(alt_prefixes=YEAR_ALTS, p_alt=0.5)))
    qtypes.append(("death_place", ["Where did {name} die?", "In which town did {sur} die?"], {}))
    qtypes = [(s, [p.format(**v) for p in ph], o) for s, ph, o in qtypes]
    # Ask about birth or death more often than not: the two years are the distractor pair.
    k = n_questions(rng)
    qs = ask(rng, par, qtypes, k)
    return par, name, qs


def town_paragraph(rng, names, world, town) -> tuple[Paragraph, str, list]:
    founder, fsur, _ = names.person()
    fy = rng.randint(900, 1700)
    charter = rng.randint(fy + 20, fy + 300)
    pop = rng.randint(8, 2500) * 100
    c1, c2 = rng.sample(COLOURS, 2)
    mayor, _, _ = names.person()
    twin = names.town()
    v = dict(town=town, river=world["river"] + " River", river_short=world["river"], region=world["region"],
             founder=founder, fsur=fsur, founded_year=str(fy), charter_year=str(charter), pop=fmt_int(pop),
             goods=rng.choice(TOWN_GOODS), flag=f"{c1} and {c2}", animal=rng.choice(ANIMALS),
             mayor=mayor, twin=twin, bank=rng.choice(["north", "south", "east", "west"]),
             hills=world["hills"], distance=str(rng.randint(8, 90)),
             neighbour=rng.choice([t for t in world["towns"] if t != town]))
    par = Paragraph()
    par.add(rng.choice([
        "{town} is a town on the {bank} bank of the {river} in {region}.",
        "{town} is a market town in {region}, on the {river}.",
        "The town of {town} lies on the {river}, {distance} kilometres from {neighbour}."]), v)
    qtypes = [("river", ["On which river does {town} lie?", "Which river flows past {town}?",
                         "{town} is on which river?"], dict(alt_prefixes=("the ",), p_alt=0.0))]
    facts = [
        (lambda: par.add(rng.choice([
            "It was founded in {founded_year} by {founder} and received its town charter in {charter_year}.",
            "According to local records, {founder} founded the settlement in {founded_year}; it became a chartered town in {charter_year}."]), v),
         [("founder", ["Who founded {town}?", "Who was the founder of {town}?", "By whom was {town} founded?"], {}),
          ("founded_year", ["When was {town} founded?", "In what year was {town} founded?", "What year was {town} founded?"],
           dict(alt_prefixes=YEAR_ALTS, p_alt=0.5)),
          ("charter_year", ["When did {town} receive its town charter?", "In which year did {town} become a chartered town?"],
           dict(alt_prefixes=YEAR_ALTS, p_alt=0.5))]),
        (lambda: par.add(rng.choice([
            "In the last census {town} had a population of {pop}.",
            "About {pop} people live in the town today.",
            "The population of {town} is {pop}."]), v),
         [("pop", ["What is the population of {town}?", "How many people live in {town}?",
                   "How many inhabitants does {town} have?"], dict(alt_prefixes=("about ", "About "), p_alt=0.0))]),
        (lambda: par.add(rng.choice([
            "{town} is known for its {goods}, which is sold at a weekly market.",
            "The town has long been famous for {goods}.",
            "Its best-known product is {goods}."]), v),
         [("goods", ["What is {town} known for?", "What is {town} famous for?", "What is the best-known product of {town}?"], {})]),
        (lambda: par.add(rng.choice([
            "The town flag is {flag} and shows a {animal}.",
            "{town}'s coat of arms shows a {animal} on a {flag} field."]), v),
         [("flag", ["What colour is the flag of {town}?", "What are the colours of {town}'s flag?",
                    "What colours are on the town arms of {town}?"], {}),
          ("animal", ["What animal is shown on the arms of {town}?", "Which animal appears on the flag of {town}?"],
           dict(alt_prefixes=("a ",), p_alt=0.0))]),
        (lambda: par.add(rng.choice([
            "The current mayor is {mayor}.",
            "Since the last election the town has been led by mayor {mayor}."]), v),
         [("mayor", ["Who is the mayor of {town}?", "Who leads the town of {town}?", "Who is {town}'s mayor?"], {})]),
        (lambda: par.add(rng.choice([
            "{town} is twinned with {twin}.",
            "Its twin town is {twin}, across the {hills}."]), v),
         [("twin", ["Which town is {town} twinned with?", "What is the twin town of {town}?"], {})]),
    ]
    rng.shuffle(facts)
    target = rng.randint(66, 100)
    for add, qs in facts:
        if par.words() >= target:
            break
        add()
        qtypes.extend(qs)
    qtypes = [(s, [p.format(**v) for p in ph], o) for s, ph, o in qtypes]
    return par, town, ask(rng, par, qtypes, n_questions(rng))


def river_paragraph(rng, names, world) -> tuple[Paragraph, str, list]:
    length = rng.randint(40, 900)
    tlen = rng.randint(15, length - 10)
    water_kind, water_lc = rng.choice(WATER_KINDS)
    water_name = names.stem()
    water = f"Lake {water_name}" if water_kind == "Lake" else f"the {water_name} {water_kind}"
    trib = names.river()
    t1, t2 = rng.sample(world["towns"], 2)
    v = dict(river=world["river"] + " River", rname=world["river"], region=world["region"],
             length=f"{length} kilometres ({round(length * 0.621371)} mi)", length_km=f"{length} kilometres",
             tlen=f"{tlen} kilometres", hills=world["hills"], water=water, trib=trib, t1=t1, t2=t2,
             basin=fmt_int(rng.randint(3, 400) * 100), fish=rng.choice(["salmon", "trout", "pike", "eel", "carp"]),
             bridge_year=str(rng.randint(1500, 1900)), bridge=f"{names.stem()} Bridge")
    par = Paragraph()
    par.add(rng.choice([
        "The {river} is a river in {region}. It is {length} long.",
        "The {river} flows for {length} through {region}.",
        "With a length of {length}, the {river} is the main river of {region}."]), v)
    qtypes = [("length", ["How long is the {river}?", "What is the length of the {river}?",
                          "How long is the {rname}?", "How many kilometres long is the {river}?"],
               dict(alt_trim=v["length_km"], p_alt=0.6))]
    facts = [
        (lambda: par.add(rng.choice([
            "It rises in the {hills} and flows into {water}.",
            "Its source is in the {hills}, and its mouth is on {water}.",
            "From its source in the {hills} it runs north to {water}."]), v),
         [("hills", ["Where does the {river} rise?", "Where is the source of the {rname}?",
                     "In which hills does the {river} begin?"], dict(alt_prefixes=("the ",), p_alt=0.0)),
          ("water", ["Into what does the {river} flow?", "Where does the {rname} end?",
                     "What body of water does the {river} flow into?"], {})]),
        (lambda: par.add(rng.choice([
            "Its main tributary is the {trib}, which is {tlen} long.",
            "The {trib}, {tlen} long, is its largest tributary."]), v),
         [("trib", ["What is the main tributary of the {river}?", "Which river is the largest tributary of the {rname}?"], {}),
          ("tlen", ["How long is the {trib}?", "What is the length of the {trib}?"], {})]),
        (lambda: par.add(rng.choice([
            "On its way it passes the towns of {t1} and {t2}.",
            "The river flows through {t1} before reaching {t2}."]), v),
         [("t1", ["Which town does the {river} pass first?", "What is the first town on the {rname}?"], {})]),
        (lambda: par.add(rng.choice([
            "The river is known for its {fish}, and fishing is allowed from May to October.",
            "Anglers come to the {rname} for its {fish}."]), v),
         [("fish", ["What fish is the {river} known for?", "Which fish do anglers catch in the {rname}?"], {})]),
        (lambda: par.add(rng.choice([
            "The oldest crossing is the {bridge}, built in {bridge_year}.",
            "In {bridge_year} the stone {bridge} was built across it."]), v),
         [("bridge", ["What is the oldest bridge over the {river}?", "Which bridge crosses the {rname}?"], {}),
          ("bridge_year", ["When was the {bridge} built?", "In what year was the {bridge} built?"],
           dict(alt_prefixes=YEAR_ALTS, p_alt=0.5))]),
        (lambda: par.add("Its drainage basin covers {basin} square kilometres.", v),
         [("basin", ["How large is the drainage basin of the {river}?", "What area does the {rname} basin cover?"], {})]),
    ]
    rng.shuffle(facts)
    target = rng.randint(66, 100)
    for add, qs in facts:
        if par.words() >= target:
            break
        add()
        qtypes.extend(qs)
    qtypes = [(s, [p.format(**v) for p in ph], o) for s, ph, o in qtypes]
    return par, v["river"], ask(rng, par, qtypes, n_questions(rng))


def company_paragraph(rng, names, world) -> tuple[Paragraph, str, list]:
    founder, fsur, ffem = names.person()
    ceo, _, _ = names.person()
    fy = rng.randint(1820, 1990)
    company = rng.choice([f"{names.stem()} Works", f"{world['towns'][0]} {rng.choice(['Instruments', 'Ironworks', 'Mills', 'Manufacturing'])}",
                          f"{names.stem()} & {names.stem()}", f"{names.stem()} Limited"])
    product, product2 = rng.sample(PRODUCTS, 2)
    v = dict(company=company, founder=founder, fsur=fsur, ceo=ceo, founded_year=str(fy),
             listed_year=str(rng.randint(fy + 5, 2015)), hq=rng.choice(world["towns"]), region=world["region"],
             product=product, product2=product2, employees=fmt_int(rng.randint(3, 900) * 10),
             logo=f"{rng.choice(COLOURS)} {rng.choice(ANIMALS)}", his="her" if ffem else "his",
             river=world["river"] + " River", factory_town=rng.choice(world["towns"]),
             fire_year=str(rng.randint(fy + 2, 2018)), architect=names.person()[0])
    par = Paragraph()
    par.add(rng.choice([
        "{company} is a manufacturer of {product} based in {hq}, {region}.",
        "{company} is a company in {region} that makes {product}. Its headquarters are in {hq}.",
        "Based in {hq}, {company} has made {product} for many years."]), v)
    qtypes = [("product", ["What does {company} make?", "What does {company} produce?",
                           "What kind of products does {company} manufacture?"], {}),
              ("hq", ["Where is {company} based?", "Where are the headquarters of {company}?",
                      "In which town is {company} headquartered?"], {})]
    facts = [
        (lambda: par.add(rng.choice([
            "The firm was founded in {founded_year} by {founder}.",
            "{founder} started the business in {founded_year} in a small workshop.",
            "It was established by {founder} in {founded_year}."]), v),
         [("founder", ["Who founded {company}?", "Who started {company}?", "Who was the founder of {company}?",
                       "By whom was {company} established?"], {}),
          ("founded_year", ["When was {company} founded?", "In what year was {company} established?",
                            "When did {fsur} start {company}?"], dict(alt_prefixes=YEAR_ALTS, p_alt=0.5))]),
        (lambda: par.add(rng.choice([
            "Its chief executive is {ceo}.",
            "Today the company is run by {ceo}, its chief executive."]), v),
         [("ceo", ["Who is the chief executive of {company}?", "Who runs {company} today?", "Who leads {company}?"], {})]),
        (lambda: par.add(rng.choice([
            "{company} employs about {employees} people.",
            "The company has around {employees} employees."]), v),
         [("employees", ["How many people does {company} employ?", "How many employees does {company} have?"],
           dict(alt_prefixes=("about ", "around "), p_alt=0.5))]),
        (lambda: par.add(rng.choice([
            "In {listed_year} it began to make {product2} as well.",
            "Since {listed_year} the company has also sold {product2}."]), v),
         [("product2", ["What else does {company} make?", "What did {company} begin to make in {listed_year}?"], {}),
          ("listed_year", ["When did {company} begin to make {product2}?"], dict(alt_prefixes=YEAR_ALTS, p_alt=0.5))]),
        (lambda: par.add(rng.choice([
            "Its logo is a {logo}.",
            "The company's logo, a {logo}, appears on all of its products."]), v),
         [("logo", ["What is the logo of {company}?", "What does the logo of {company} show?"],
           dict(alt_prefixes=("a ",), p_alt=0.0))]),
        (lambda: par.add(rng.choice([
            "Its largest factory stands on the {river} at {factory_town}.",
            "Most of its goods are made in a large factory at {factory_town}, beside the {river}."]), v),
         [("factory_town", ["Where is the largest factory of {company}?", "In which town does {company} have its main factory?"], {})]),
        (lambda: par.add(rng.choice([
            "After a fire destroyed the old workshop in {fire_year}, the company moved into a new building designed by {architect}.",
            "In {fire_year} a fire destroyed the first workshop; the new building was designed by the architect {architect}."]), v),
         [("architect", ["Who designed the new building of {company}?", "Which architect designed the building of {company}?"], {}),
          ("fire_year", ["When did a fire destroy the workshop of {company}?", "In what year was the old workshop of {company} destroyed by fire?"],
           dict(alt_prefixes=YEAR_ALTS, p_alt=0.5))]),
    ]
    rng.shuffle(facts)
    target = rng.randint(66, 100)
    for add, qs in facts:
        if par.words() >= target:
            break
        add()
        qtypes.extend(qs)
    qtypes = [(s, [p.format(**v) for p in ph], o) for s, ph, o in qtypes]
    return par, company, ask(rng, par, qtypes, n_questions(rng))


def invention_paragraph(rng, names, world) -> tuple[Paragraph, str, list]:
    device, purpose = rng.choice(DEVICES)
    # An invented brand name for the device keeps titles unique.
    brand = names.stem()
    title = f"{brand} {device}"
    inventor, isur, ifem = names.person()
    iy = rng.randint(1750, 1950)
    py = rng.randint(iy + 1, iy + 12)
    v = dict(device=title, Device=title, purpose=purpose, inventor=inventor, isur=isur, inv_year=str(iy),
             patent_year=str(py), town=rng.choice(world["towns"]), material=rng.choice(MATERIALS),
             price=f"{rng.randint(2, 60)} silver crowns", weight=f"{rng.randint(2, 90)} kilograms",
             sold=fmt_int(rng.randint(2, 500) * 100), his="her" if ifem else "his",
             expo=f"{rng.choice(world['towns'])} Exhibition", expo_year=str(py + rng.randint(1, 15)),
             maker=f"{names.stem()} Works", prize=rng.choice(["a gold medal", "a silver medal", "first prize", "a bronze medal"]))
    par = Paragraph()
    par.add(rng.choice([
        "The {device} is a device used {purpose}.",
        "The {device} was a machine designed {purpose}."]), v)
    qtypes = [("purpose", ["What is the {device} used for?", "What was the {device} designed for?",
                           "For what purpose is the {device} used?"], {})]
    facts = [
        (lambda: par.add(rng.choice([
            "It was invented by {inventor} in {town} in {inv_year} and patented in {patent_year}.",
            "{inventor} built the first one in {inv_year} in {his} workshop in {town}; the patent followed in {patent_year}."]), v),
         [("inventor", ["Who invented the {device}?", "Who built the first {device}?", "Who was the inventor of the {device}?"], {}),
          ("inv_year", ["When was the {device} invented?", "In what year was the {device} invented?",
                        "When did {isur} invent the {device}?"], dict(alt_prefixes=YEAR_ALTS, p_alt=0.5)),
          ("patent_year", ["When was the {device} patented?", "In what year did the {device} receive its patent?"],
           dict(alt_prefixes=YEAR_ALTS, p_alt=0.5)),
          ("town", ["Where was the {device} invented?", "In which town was the first {device} built?"], {})]),
        (lambda: par.add(rng.choice([
            "The frame is made of {material} and weighs {weight}.",
            "Early models were made of {material} and weighed about {weight}."]), v),
         [("material", ["What is the {device} made of?", "What material was used for the {device}?"], {}),
          ("weight", ["How much does the {device} weigh?", "What is the weight of the {device}?"],
           dict(alt_prefixes=("about ",), p_alt=0.5))]),
        (lambda: par.add(rng.choice([
            "A new one cost {price}, and about {sold} were sold.",
            "More than {sold} were sold, each for {price}."]), v),
         [("price", ["How much did a {device} cost?", "What was the price of a new {device}?"], {}),
          ("sold", ["How many {device}s were sold?", "How many of the {device} were sold?"],
           dict(alt_prefixes=("about ",), p_alt=0.5))]),
        (lambda: par.add(rng.choice([
            "At the {expo} of {expo_year} it won {prize}, and the firm {maker} began to build it in large numbers.",
            "After it won {prize} at the {expo} in {expo_year}, {maker} bought the rights to make it."]), v),
         [("prize", ["What did the {device} win at the {expo}?", "What prize did the {device} win?"], {}),
          ("maker", ["Which firm built the {device} in large numbers?", "Which company made the {device}?"], {}),
          ("expo_year", ["When did the {device} win {prize}?", "In what year was the {device} shown at the {expo}?"],
           dict(alt_prefixes=YEAR_ALTS, p_alt=0.5))]),
    ]
    rng.shuffle(facts)
    for add, qs in facts:
        add()
        qtypes.extend(qs)
    qtypes = [(s, [p.format(**v) for p in ph], o) for s, ph, o in qtypes]
    return par, title, ask(rng, par, qtypes, n_questions(rng))


def make_world(rng, names) -> dict:
    region_stem = names.region()
    return {
        "region": region_stem,
        "title": f"{region_stem} {rng.choice(REGION_KINDS)}",
        "river": names.river(),
        "hills": f"{names.stem()} {rng.choice(HILL_KINDS)}",
        "towns": [names.town() for _ in range(5)],
    }


def english_split(rng, names, split: str, target: int) -> dict:
    articles = []
    n = 0
    while n < target:
        world = make_world(rng, names)
        paragraphs = []
        builders = [lambda: river_paragraph(rng, names, world),
                    lambda: town_paragraph(rng, names, world, world["towns"][0]),
                    lambda: town_paragraph(rng, names, world, world["towns"][1]),
                    lambda: person_paragraph(rng, names, world),
                    lambda: person_paragraph(rng, names, world),
                    lambda: company_paragraph(rng, names, world),
                    lambda: invention_paragraph(rng, names, world)]
        for build in builders:
            if n >= target:  # the last region may be cut short, to keep near the target size
                break
            par, _subject, qas = build()
            items = []
            for q, golds in qas:
                items.append({"id": f"sample-{split}-{n:06d}", "question": q, "answers": golds})
                n += 1
            paragraphs.append({"context": par.text, "qas": items})
        rng.shuffle(paragraphs)
        articles.append({"title": world["title"], "paragraphs": paragraphs})
    return {"version": VERSION, "data": articles}


# --------------------------------------------------------------------------------------------
# Chinese (simplified) paragraphs
# --------------------------------------------------------------------------------------------

ZH_SURNAMES = list("张王李赵陈刘周吴孙郑冯杨黄何高林罗宋梁谢唐许韩邓曹彭曾萧田董潘袁蒋蔡余杜叶程苏魏吕丁沈任姚卢")
ZH_GIVEN = list("明华志远文海云峰光宁秋晨春立安平德松鹤岚清宇航书涵静雅芳兰梅竹柏舟川岳")
ZH_PLACE = list("临清河阳安平东西南北兴宁丰泽青石白云松柳桥湖江山溪源长新和定远")
ZH_OCC = ["钟表匠", "植物学家", "工程师", "画家", "地图测绘师", "化学家", "造船师", "作曲家", "天文学家",
          "建筑师", "医生", "织布匠", "印刷工", "地质学家", "数学家"]
ZH_DEVICES = [("折叠望远镜", "观察海上的船只"), ("铜制雨量计", "测量农田的降雨量"), ("脚踏织布机", "在家中织布"),
              ("双芯矿灯", "照亮矿井和隧道"), ("水力锯木机", "为造船切割木材"), ("潮汐钟", "预报涨潮和落潮"),
              ("播种机", "把种子播成整齐的行"), ("手摇水泵", "排出地窖里的积水"), ("信号灯", "在灯塔之间传递信息")]
ZH_PRODUCTS = ["自行车", "铁路信号灯", "铜水壶", "羊毛毯", "怀表", "打字机", "瓷盘", "拖拉机", "收音机",
               "缝纫机", "挂钟", "玻璃瓶", "渔网", "铁炉"]
ZH_GOODS = ["奶酪", "陶器", "蜂蜜", "丝绸", "茶叶", "米酒", "竹席", "青瓷", "腌鱼", "核桃"]
ZH_COLOURS = ["红色", "蓝色", "绿色", "黄色", "白色", "黑色", "紫色", "灰色"]
ZH_DIGITS = "〇一二三四五六七八九"


class ZhNames:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def _new(self, make) -> str:
        for _ in range(10000):
            s = make()
            if s not in self.used:
                self.used.add(s)
                return s
        raise RuntimeError("name pool exhausted")

    def person(self) -> str:
        return self._new(lambda: self.rng.choice(ZH_SURNAMES) + "".join(self.rng.sample(ZH_GIVEN, self.rng.choice([1, 2]))))

    def place(self, suffix: str) -> str:
        return self._new(lambda: "".join(self.rng.sample(ZH_PLACE, 2)) + suffix)


def zh_answers(par: Paragraph, slot: str, rng: random.Random, strip_suffix: str | None = None,
               p_alt: float = 0.5) -> list[dict]:
    start, text = par.spans[slot]
    golds = [{"text": text, "answer_start": start}]
    if strip_suffix and text.endswith(strip_suffix) and rng.random() < p_alt:
        golds.append({"text": text[:-len(strip_suffix)], "answer_start": start})
    return golds


def zh_ask(rng, par, qtypes, k):
    out = []
    for slot, phrasings, opts in rng.sample(qtypes, min(k, len(qtypes))):
        out.append((rng.choice(phrasings), zh_answers(par, slot, rng, **opts)))
    return out


def zh_person(rng, names, world):
    name = names.person()
    he = rng.choice(["他", "她"])
    by = rng.randint(1780, 1900)
    iy, cy = rng.sample(range(by + 20, by + 60), 2)
    dy = rng.randint(max(iy, cy) + 1, by + 90)
    device, purpose = rng.choice(ZH_DEVICES)
    birthplace, death_place = rng.sample(world["towns"], 2)
    v = dict(name=name, he=he, occ=rng.choice(ZH_OCC), birth_year=f"{by}年", death_year=f"{dy}年",
             birthplace=birthplace, death_place=death_place, teacher=names.person(), device=device, purpose=purpose,
             inv_year=f"{iy}年", company=f"{name[0]}氏{rng.choice(['机械厂', '工坊', '公司'])}", company_year=f"{cy}年",
             product=rng.choice(ZH_PRODUCTS), region=world["region"])
    par = Paragraph(sep="")
    if rng.random() < 0.5:
        par.add("{name}于{birth_year}出生在{birthplace}，是{region}著名的{occ}。", v)
    else:
        par.add("{name}是{region}的一位{occ}，{birth_year}生于{birthplace}。", v)
    qtypes = [("birth_year", ["{name}出生于哪一年？", "{name}是哪一年出生的？", "{name}生于何年？"], dict(strip_suffix="年")),
              ("birthplace", ["{name}出生在哪里？", "{name}的出生地是哪里？"], {}),
              ("occ", ["{name}的职业是什么？", "{name}是做什么的？"], {})]
    facts = [
        (lambda: par.add("{he}早年跟随{teacher}学习手艺。", v),
         [("teacher", ["{name}早年跟随谁学习？", "{name}的老师是谁？"], {})]),
        (lambda: par.add("{inv_year}，{name}发明了{device}，这种装置主要用于{purpose}。", v),
         [("device", ["{name}发明了什么？", "{name}的发明是什么？"], {}),
          ("inv_year", ["{name}在哪一年发明了{device}？", "{device}是哪一年发明的？"], dict(strip_suffix="年")),
          ("purpose", ["{device}主要用于什么？", "{name}发明的{device}有什么用途？"], {})]),
        (lambda: par.add("{company_year}，{he}创办了{company}，主要生产{product}。", v),
         [("company", ["{name}创办了哪家企业？", "{name}创办的企业叫什么名字？"], {}),
          ("product", ["{company}主要生产什么？"], {})]),
    ]
    rng.shuffle(facts)
    for add, qs in facts[:rng.randint(2, 3)]:
        add()
        qtypes.extend(qs)
    par.add(rng.choice(["{he}于{death_year}在{death_place}去世。", "{he}晚年移居{death_place}，{death_year}在那里去世。"]), v)
    qtypes.append(("death_year", ["{name}于哪一年去世？", "{name}是哪一年去世的？"], dict(strip_suffix="年")))
    qtypes.append(("death_place", ["{name}在哪里去世？"], {}))
    qtypes = [(s, [p.format(**v) for p in ph], o) for s, ph, o in qtypes]
    return par, zh_ask(rng, par, qtypes, n_questions(rng))


def zh_town(rng, names, world, town):
    fy = rng.randint(900, 1700)
    v = dict(town=town, river=world["river"], region=world["region"], founder=names.person(), founded_year=f"{fy}年",
             county_year=f"{rng.randint(fy + 30, fy + 300)}年", pop=f"{rng.randint(8, 900) * 100}",
             goods=rng.choice(ZH_GOODS), colour=rng.choice(ZH_COLOURS), bank=rng.choice(["北岸", "南岸", "东岸", "西岸"]))
    par = Paragraph(sep="")
    par.add(rng.choice(["{town}位于{region}，坐落在{river}{bank}。", "{town}是{region}的一座小城，地处{river}{bank}。"]), v)
    qtypes = [("river", ["{town}位于哪条河边？", "流经{town}的是哪条河？"], {})]
    facts = [
        (lambda: par.add("{town}始建于{founded_year}，由{founder}建立，{county_year}设县。", v),
         [("founder", ["{town}是由谁建立的？", "谁建立了{town}？"], {}),
          ("founded_year", ["{town}始建于哪一年？", "{town}是哪一年建立的？"], dict(strip_suffix="年")),
          ("county_year", ["{town}是哪一年设县的？"], dict(strip_suffix="年"))]),
        (lambda: par.add(rng.choice(["全城人口约{pop}人。", "{town}现有人口{pop}人。"]), v),
         [("pop", ["{town}有多少人口？", "{town}的人口是多少？"], {})]),
        (lambda: par.add("当地以出产{goods}闻名。", v),
         [("goods", ["{town}以出产什么闻名？", "{town}的特产是什么？"], {})]),
        (lambda: par.add("{town}的城徽以{colour}为主色。", v),
         [("colour", ["{town}的城徽是什么颜色？"], {})]),
    ]
    rng.shuffle(facts)
    for add, qs in facts[:rng.randint(3, 4)]:
        add()
        qtypes.extend(qs)
    qtypes = [(s, [p.format(**v) for p in ph], o) for s, ph, o in qtypes]
    return par, zh_ask(rng, par, qtypes, n_questions(rng))


def zh_river(rng, names, world):
    length = rng.randint(40, 900)
    v = dict(river=world["river"], region=world["region"], length=f"{length}公里", tlen=f"{rng.randint(15, length - 10)}公里",
             mountain=names.place("山"), lake=names.place("湖"), trib=names.place("溪"),
             towns=f"{world['towns'][0]}和{world['towns'][1]}", fish=rng.choice(["鲤鱼", "鲈鱼", "鳜鱼", "鲫鱼"]))
    par = Paragraph(sep="")
    par.add(rng.choice(["{river}是{region}的主要河流，全长{length}。", "{river}全长{length}，流经{region}。"]), v)
    qtypes = [("length", ["{river}全长多少公里？", "{river}有多长？"], dict(strip_suffix="公里"))]
    facts = [
        (lambda: par.add("{river}发源于{mountain}，最终注入{lake}。", v),
         [("mountain", ["{river}发源于哪里？", "{river}的源头在哪座山？"], {}),
          ("lake", ["{river}最终注入哪里？", "{river}流入哪个湖？"], {})]),
        (lambda: par.add("它的主要支流是{trib}，长{tlen}。", v),
         [("trib", ["{river}的主要支流是什么？"], {}), ("tlen", ["{trib}有多长？"], dict(strip_suffix="公里"))]),
        (lambda: par.add("沿途流经{towns}等城镇。", v),
         [("towns", ["{river}沿途流经哪些城镇？"], {})]),
        (lambda: par.add("河中盛产{fish}。", v),
         [("fish", ["{river}中盛产什么鱼？"], {})]),
    ]
    rng.shuffle(facts)
    for add, qs in facts[:rng.randint(2, 4)]:
        add()
        qtypes.extend(qs)
    qtypes = [(s, [p.format(**v) for p in ph], o) for s, ph, o in qtypes]
    return par, zh_ask(rng, par, qtypes, n_questions(rng))


def zh_company(rng, names, world):
    fy = rng.randint(1850, 1995)
    v = dict(company=names.place(rng.choice(["机械厂", "纺织公司", "电器公司", "造船厂"])), founder=names.person(),
             ceo=names.person(), founded_year=f"{fy}年", hq=rng.choice(world["towns"]),
             product=rng.choice(ZH_PRODUCTS), employees=f"{rng.randint(3, 900) * 10}")
    par = Paragraph(sep="")
    par.add("{company}由{founder}于{founded_year}在{hq}创立，主要生产{product}。", v)
    qtypes = [("founder", ["{company}是由谁创立的？", "谁创立了{company}？"], {}),
              ("founded_year", ["{company}创立于哪一年？", "{company}是哪一年成立的？"], dict(strip_suffix="年")),
              ("product", ["{company}主要生产什么？", "{company}的主要产品是什么？"], {}),
              ("hq", ["{company}在哪里创立？"], {})]
    facts = [
        (lambda: par.add("公司现有员工{employees}人。", v), [("employees", ["{company}有多少名员工？"], {})]),
        (lambda: par.add("现任董事长是{ceo}。", v), [("ceo", ["{company}的现任董事长是谁？"], {})]),
    ]
    for add, qs in facts:
        add()
        qtypes.extend(qs)
    qtypes = [(s, [p.format(**v) for p in ph], o) for s, ph, o in qtypes]
    return par, zh_ask(rng, par, qtypes, n_questions(rng))


def chinese_split(rng, names, split: str, target: int) -> dict:
    articles = []
    n = 0
    while n < target:
        region = names.place(rng.choice(["地区", "平原", "谷地"]))
        world = {"region": region, "river": names.place(rng.choice(["江", "河"])),
                 "towns": [names.place(rng.choice(["县", "镇"])) for _ in range(4)]}
        paragraphs = []
        for build in (lambda: zh_river(rng, names, world), lambda: zh_town(rng, names, world, world["towns"][0]),
                      lambda: zh_person(rng, names, world), lambda: zh_person(rng, names, world),
                      lambda: zh_company(rng, names, world)):
            if n >= target:
                break
            par, qas = build()
            items = []
            for q, golds in qas:
                items.append({"id": f"sample-zh-{split}-{n:06d}", "question": q, "answers": golds})
                n += 1
            paragraphs.append({"context": par.text, "qas": items})
        rng.shuffle(paragraphs)
        articles.append({"title": region, "paragraphs": paragraphs})
    return {"version": VERSION, "data": articles}


# --------------------------------------------------------------------------------------------
# Validation and output
# --------------------------------------------------------------------------------------------

def validate(obj: dict, name: str) -> dict:
    """Check the layout, every answer offset and id uniqueness; return counts."""
    assert obj.get("version") == VERSION, f"{name}: version"
    ids, contexts = set(), []
    n_q = n_a = n_multi = 0
    for article in obj["data"]:
        assert isinstance(article["title"], str) and article["title"], f"{name}: title"
        for para in article["paragraphs"]:
            ctx = para["context"]
            contexts.append(ctx)
            assert para["qas"], f"{name}: paragraph without questions"
            for qa in para["qas"]:
                assert qa["id"] not in ids, f"{name}: duplicate id {qa['id']}"
                ids.add(qa["id"])
                assert qa["question"].strip(), f"{name}: empty question {qa['id']}"
                assert qa["answers"], f"{name}: no answer for {qa['id']}"
                for a in qa["answers"]:
                    s, t = a["answer_start"], a["text"]
                    assert t and ctx[s:s + len(t)] == t, f"{name}: {qa['id']}: bad offset {s} for {t!r}"
                n_q += 1
                n_a += len(qa["answers"])
                n_multi += len(qa["answers"]) > 1
    return {"articles": len(obj["data"]), "paragraphs": len(contexts), "questions": n_q, "answers": n_a,
            "two_gold": n_multi, "ids": ids, "contexts": contexts}


def check_pair(train: dict, dev: dict, train_name: str, dev_name: str) -> None:
    tr, dv = validate(train, train_name), validate(dev, dev_name)
    assert not tr["ids"] & dv["ids"], "ids shared between train and dev"
    train_ctx = set(tr["contexts"])
    shared = [c for c in dv["contexts"] if c in train_ctx]
    assert not shared, f"{len(shared)} dev contexts also in train"
    assert len(set(tr["contexts"])) == len(tr["contexts"]), f"{train_name}: repeated context"
    assert len(set(dv["contexts"])) == len(dv["contexts"]), f"{dev_name}: repeated context"
    for name, c in ((train_name, tr), (dev_name, dv)):
        words = [len(x.split()) for x in c["contexts"]]
        unit = "words"
        if max(words) == 1:  # Chinese: no spaces, count characters
            words, unit = [len(x) for x in c["contexts"]], "chars"
        print(f"{name}: {c['articles']} articles, {c['paragraphs']} paragraphs, {c['questions']} questions, "
              f"{c['answers']} answers ({c['two_gold']} questions with 2 golds); "
              f"context length {min(words)}-{max(words)} {unit} (mean {sum(words) / len(words):.0f})")


def dump(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


FILES = ("sample_train.json", "sample_dev.json", "sample_zh_train.json", "sample_zh_dev.json")


def generate() -> dict[str, dict]:
    rng = random.Random(SEED)
    names = NamePool(rng)  # one pool for both splits: dev names are never train names
    en_train = english_split(rng, names, "train", EN_TRAIN_QUESTIONS)
    en_dev = english_split(rng, names, "dev", EN_DEV_QUESTIONS)
    zrng = random.Random(SEED + 1)
    znames = ZhNames(zrng)
    zh_train = chinese_split(zrng, znames, "train", ZH_TRAIN_QUESTIONS)
    zh_dev = chinese_split(zrng, znames, "dev", ZH_DEV_QUESTIONS)
    return dict(zip(FILES, (en_train, en_dev, zh_train, zh_dev)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out_dir", default=HERE, help="where to write the four files (default: this folder)")
    ap.add_argument("--check", action="store_true", help="only validate the existing files")
    args = ap.parse_args(argv)
    if args.check:
        objs = {}
        for f in FILES:
            with open(os.path.join(args.out_dir, f), encoding="utf-8") as fh:
                objs[f] = json.load(fh)
    else:
        objs = generate()
        os.makedirs(args.out_dir, exist_ok=True)
        for f, obj in objs.items():
            with open(os.path.join(args.out_dir, f), "w", encoding="utf-8", newline="\n") as fh:
                fh.write(dump(obj))
    check_pair(objs[FILES[0]], objs[FILES[1]], FILES[0], FILES[1])
    check_pair(objs[FILES[2]], objs[FILES[3]], FILES[2], FILES[3])
    for f in FILES:
        path = os.path.join(args.out_dir, f)
        print(f"{path}: {os.path.getsize(path):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
