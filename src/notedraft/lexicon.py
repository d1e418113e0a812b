"""One lexicon for dictations and finished notes: the words that name guidance, sides, drugs and context.

Everything the extractor recognises is taught here, so "C-arm", "Kenalog" or "bilat" is taught once.
Patterns are compiled once at import; they are plain `re` so the validator stays dependency-free and fast.
"""

from __future__ import annotations

import re

I = re.IGNORECASE

# --- Guidance -------------------------------------------------------------------------------------------------
# Case-sensitive "US" and "CT" (upper case only) so "us" the pronoun and "ct" in words never count.
GUIDANCE_TERMS: dict[str, re.Pattern[str]] = {
    "fluoroscopy": re.compile(
        r"\bfl(?:u|ou)or(?:o|oscop(?:y|ic|ically|e))?\b|\bflouro(?:scop\w*)?\b|\bfluoro-?guid\w*|\bc[- ]?arm\b|\bimage[- ]intensifier\b"
        r"|\bfluoroscopy\b",
        I,
    ),
    "ct": re.compile(
        r"\bCT[- ]?(?:guid\w*|fluoro\w*)|\b(?:under|with|using|via)\s+CT\b|\bCT\s+(?:imaging\s+)?guidance\b"
        r"|\bcomputed tomograph\w*\s+guid\w*|\bguided\s+by\s+CT\b"
        # a form's item: "[X] CT", "Guidance: CT"
        r"|(?<=[\]\)☒☑✅] )CT\b|(?<=[\]\)☒☑✅])CT\b|(?<=[Gg]uidance: )CT\b|(?<=GUIDANCE: )CT\b|(?<=[Ii]maging: )CT\b|(?<=IMAGING: )CT\b"
    ),
    "ultrasound": re.compile(
        r"\bultra-?sound\w*|\bsonograph\w*|\bUS\b(?=[- ]?(?:guid|probe|imag|visuali))|\b(?:under|with|using|via)\s+US\b"
        r"|\bin-?plane\b|\bout-?of-?plane\b|\b(?:linear|curvilinear|high-frequency)\s+(?:array\s+)?(?:probe|transducer)\b",
    ),
}
# Lower-case variants of the ultrasound words (the case-sensitive "US" must stay upper case).
_US_WORDS = re.compile(r"\bultra-?sound\w*|\bsonograph\w*|\bsono(?=[- ]?guid)|\bin-?plane\b|\bout-?of-?plane\b|\b(?:linear|curvilinear)\s+(?:probe|transducer)\b", I)

# Stating that no imaging guided the needle.
NO_IMAGING = re.compile(
    r"\b(?:no|without|w/o)\s+(?:image|imaging)(?:\s+guidance)?\b|\blandmarks?[- ]?(?:guided|guidance|technique|based)\b"
    r"|\blandmarks?\s+only\b|\bpalpation\s+of\s+(?:the\s+)?(?:\w+\s+)?landmarks?\b"
    r"|\b(?:by|using|via|with)\s+(?:anatomic(?:al)?\s+|surface\s+|bony\s+)?landmarks?\b"
    r"|\bby\s+palpation\b|\bpalpation[- ]guided\b|\bblind(?:ly)?\b(?=.{0,20}inj)"
    r"|\b(?:imaging|image\s+guidance|guidance)\s*:\s*(?:none|no|n/a)\b",
    I,
)

# --- Sides ----------------------------------------------------------------------------------------------------
SIDE_WORDS = re.compile(
    r"\b(?P<bilateral>bilateral(?:ly)?|bilat\.?|b/l|both\s+sides|each\s+side|both\s+(?:SI\s*|sacroiliac\s+)?joints"
    r"|(?:the\s+)?other\s+side|opposite\s+side|contralateral(?=\s+(?:SI|sacroiliac|side|joint)))"
    r"|\b(?P<left>left|lt\.?)\b|\b(?P<right>right|rt\.?)\b",
    I,
)
# Dictation shorthand: a bare upper-case L or R before the joint or procedure ("L SIJ inj", "R SI joint").
SIDE_LETTER = re.compile(r"\b(?P<letter>[LR])(?=\s*(?:SIJ|SI\b|S\.I\.|sacro|knee|hip|shoulder|side)|\s*\)|$)")
# Words that make a side mention anatomical or procedural rather than the procedure's side.
SIDE_NOT_PROCEDURAL = re.compile(
    r"\b(?:lateral\s+decubitus|(?:upper|lower)\s+extremit\w*|arm|hand|leg|wrist|antecubital|ear|eye|heart"
    r"|greater\s+than|than\s+(?:left|right)|radiat\w*|radicul\w*|paramedian\s+approach\s+from"
    r"|spread|flow\w*|filling|run-?off|(?:(?:left|right)\s+)?(?:anterior\s+|posterior\s+)?oblique\w*)\b",
    I,
)
# A side word describing contrast ("bilateral spread", "flowing ... at both sides") is not the procedure's side.
SIDE_AFTER_CONTRAST = re.compile(r"\b(?:spread|flow\w*|filling|defect|dye|contrast|outlin\w*)\b[^.;,]{0,40}$", I)
# A side counts only in a sentence about the procedure itself.
PROCEDURE_ANCHOR = re.compile(
    r"\binj\w*|\bneedle|\bblock|\bprocedure|\brepeated|\bplace(?:d|ment)|\bcatheter|\bjoint|\bforam\w*|\binsert\w*"
    r"|\bapproach|\bdecompression|\bnerve|\bram(?:us|i)\b|\bbranch|\bSIJ?\b|\bsacroiliac|\bknee|\bhip\b|\bshoulder|\bfacet"
    r"|\bepidural|\btransforaminal|\bablat\w*|\bRF|\blesion|\btrigger|\bmuscle|\bnotch|\blamina|\b[CTLS]\d|\bcarried\s+out"
    r"|\bperformed|\bbilat|\bfluoro|\bultrasound|\bUS\b|\bCT\b|\btrapezius|\bparaspinal|\bmg\b|\bcc\b|\bml\b",
    I,
)

# --- Procedures -----------------------------------------------------------------------------------------------
SI_JOINT = re.compile(r"\bsacro-?ill?i(?:a|)c\b|\bsacroilac\b|\bSIJ\b|\bS\.?I\.?\s*(?:jt|joint)s?\b|\bSI\b(?=\s+(?:inj|joint|jt))", I)
SI_RFA = re.compile(r"\bradio-?frequency\b|\bRFA?\b|\bRFTC\b|\bthermocoagulation\b|\bablation\b|\bneurotomy\b|\bdenervation\b|\brhizotomy\b", I)
SI_NERVE = re.compile(r"\blateral\s+branch\w*\b|\bdorsal\s+ram(?:us|i)\b|\bnerve\s+block\b|\bS[1-3]\b.{0,30}\bbranch", I)
INJECTION = re.compile(r"\binj(?:ection|ected|ect|s|\.)?\b|\bintra-?articular\b|\bIA\b|\barthrogra\w*|\binstill\w*", I)
OTHER_PROCEDURES: list[tuple[str, re.Pattern[str]]] = [
    ("trigger_point_injection", re.compile(r"\btrigger[- ]?points?\b|\bTPIs?\b", I)),
    ("epidural_injection", re.compile(r"\bepidural\b|\bESI\b|\btransforaminal\b|\bcaudal\b|\binterlaminar\b|\bintralaminar\b|\bneuroplasty\b", I)),
    ("facet_injection", re.compile(r"\bfacet\b|\bmedial\s+branch\b|\bzygapophyseal\b", I)),
    ("joint_injection", re.compile(r"\bknee\b|\bhip\s+joint\b|\bshoulder\b|\bacromioclavicular\b|\bAC\s+joint\b|\bbursa\b|\bglenohumeral\b", I)),
    ("other", re.compile(r"\bsympathetic\b|\bplexus\b|\bstellate\b|\bdiscogra\w*|\bepidurogra\w*|\bganglion\b", I)),
]

# --- Drugs ----------------------------------------------------------------------------------------------------
# The drugs and amounts are data (lexicon/drugs.toml, lexicon/units.toml), read and compiled on first use by
# notedraft.medications. Their old names here (DRUGS, DRUG_PATTERN, BRANDS, BRAND_SALT, MASS, VOLUME, PERCENT,
# PER_ML, NUMBER, number_value, SALT, PER_SIDE, IN_TOTAL, SKIN_LOCAL, AMOUNT_EXPLAINED, ...) still work: see
# __getattr__ at the end of this module.
CONTRAST = re.compile(r"\bcontrast\b|\bdye\b|\bomnipaque\b|\bisovue\b|\barthrogra(?:m|phy|phic)\b|\bepidurogra\w*", I)

# --- Context cues ---------------------------------------------------------------------------------------------
NEGATION_BEFORE = re.compile(
    r"\b(?:no|not|without|w/o|never|neither|nor|denies|denied|declined|declines|refused|refuses|absent|negative\s+for|non)\b"
    r"|\bwas\s+not\b|\bn't\b",
    I,
)
NEGATION_AFTER = re.compile(
    r"^\W*(?:\w+\s+){0,3}?(?:was|were|is|are)?\s*(?:not|never)\s+"
    r"(?:used|utilized|employed|performed|available|obtained|done|needed|required|injected|treated)\b"
    r"|^\W*(?:\w+\s+){0,2}?(?:was|were)\s+(?:declined|refused|deferred|unavailable)\b"
    r"|^\W*(?:\w+\s+){0,2}?(?:declined|refused|deferred|unavailable)\b"
    r"|^\s*:\s*(?:none|no|not\s+used|n/a)\b",  # "Fluoroscopy: none"
    I,
)
# A negation reaches its mention only across words like these ("without the use of fluoroscopy", "did not use
# fluoroscopy", "no imaging or fluoroscopy"); any other word ends its scope ("without sedation under fluoroscopy",
# "no paresthesias were noted with fluoroscopic guidance").
NEGATION_PASS_THROUGH = re.compile(
    r"(?:\W*\b(?:the|a|an|any|use|used|using|utilized|employed|performed|done|placed|needed|required|of|or|nor"
    r"|under|with|via|by|through|real-?time|live|image|imaging|guidance|guided|ultrasound|ultrasonic|sonographic"
    r"|fluoroscopic|fluoroscopically|CT|US|was|were|is|be|been|it)\b)*\W*",
    I,
)
DECLINED = re.compile(r"\b(?:declined|declines|refused|refuses|deferred)\b", I)
# A plan stated after the mention, in the same clause: "the left side will be injected in two weeks".
PLANNED_AFTER = re.compile(
    r"^\W*(?:\w+\s+){0,3}?(?:will|shall|is\s+to|are\s+to)\s+(?:be\s+)?\w+|^\W*(?:\w+\s+){0,3}?(?:is|are)\s+(?:planned|scheduled)\b",
    I,
)
PLANNED = re.compile(
    r"\b(?:will|would|plan(?:s|ned|ning)?|schedul\w*|consider\w*|recommend\w*|future|next\s+(?:time|visit|step)"
    r"|candidate\s+for|may\s+(?:need|benefit|require)|if\s+(?:no|not|pain|symptoms)|should|to\s+be\s+(?:done|performed)"
    r"|request(?:ed|ing)?|authoriz\w*|return\s+for|follow[- ]up\s+for)\b",
    I,
)
HISTORICAL = re.compile(
    r"\b(?:prior|previous(?:ly)?|history\s+of|hx\s+of|h/o|s/p|status\s+post|in\s+the\s+past|last\s+(?:time|year|month|week|injection)"
    r"|\d+\s+(?:days?|weeks?|months?|years?)\s+ago|ago|had\s+had|previously|earlier\s+this\s+year)\b",
    I,
)
# Past tense alone ("the patient had a ...", "underwent") is history unless the sentence places it in this encounter.
HISTORICAL_WEAK = re.compile(r"\b(?:had\s+(?:a|an)|underwent)\b", I)
PRESENT_ENCOUNTER = re.compile(
    r"\b(?:today|this\s+(?:date|day|morning|afternoon|evening|visit|encounter|procedure)|at\s+this\s+time|currently)\b", I
)
# An allergy names a drug that must not be given: "allergy to lidocaine", "allergic to iodinated contrast".
ALLERGY = re.compile(r"\ballerg(?:y|ies|ic)\b|\bintoleran(?:ce|t)\s+(?:to|of)\b|\bsensitivity\s+to\b", I)
# Consent and risk discussions list things that may happen, not what was done.
HYPOTHETICAL_SENTENCE = re.compile(
    r"\b(?:risks?|side\s+effects?|reactions?\s+to|were\s+discussed|discussed\s+with"
    r"|alternatives|benefits)\b",
    I,
)

# --- Other facts ----------------------------------------------------------------------------------------------
NEEDLE_CONFIRMATION = re.compile(
    r"\b(?:confirm\w*|verif\w*|document(?:ed|ing)\s+(?:intra|needle)|ensur\w*)\b[^.;]{0,80}?\b(?:needle|placement|position\w*|intra-?articular|IA|joint|spread|location)\b"
    r"|\b(?:needle|placement|position|intra-?articular\s+(?:placement|spread|position|location)|IA)\b[^.;]{0,60}?\b(?:confirm\w*|verif\w*)\b"
    r"|\bcontrast\s+confirm\w*|\boutlin\w*\s+(?:the\s+)?(?:joint|recess\w*)|\barthrogra(?:m|phy)\s+(?:confirm|show|demonstrat|c/w)\w*"
    r"|\bcontrast\s+(?:spread|flow)\w*\s+(?:within|into|in)\s+(?:the\s+)?joint|\bintra-?articular\s+(?:spread|flow|placement)"
    r"|\bIA\s+(?:placement|spread|confirmed|position)|\bneedle\s+(?:tip\s+)?(?:was\s+)?(?:seen|visuali[sz]ed)\b[^.;]{0,60}\b(?:joint|IA|intra-?articular)"
    # the many ways notes say contrast showed the joint, or the tip or injectate was seen inside it
    r"|\b(?:contrast|dye|arthrogra\w*|omnipaque|isovue)\b[^.;]{0,40}?\b(?:outlin\w*|fill\w*|opacif\w*|delineat\w*|spread|flow\w*)\b"
    r"[^.;]{0,30}?\b(?:joint|jt|it|recess\w*|capsule|SIJ)\b"
    r"|\b(?:needle\s+)?tips?\b[^.;]{0,40}?\b(?:in|within|into|entering|inside|intra-?articular)\s+(?:the\s+|each\s+|its\s+|both\s+)?(?:joint|jt|SIJ)s?\b"
    r"|\b(?:injectate|medication|solution)\b[^.;]{0,30}?\b(?:seen|visuali[sz]ed|observed|spread\w*)\b[^.;]{0,30}?\b(?:within|in|into)\s+(?:the\s+|each\s+)?joint"
    r"|\b(?:intra-?articular|IA)\s+(?:contrast|dye|needle\s+tips?|position|filling)\b|\bcontrast\s+IA\b|\bw/?\s*contrast\s+IA\b"
    r"|\b(?:intra-?articular|IA)\b\s+(?:\w+\s+){0,2}(?:confirm\w*|verif\w*)",
    I,
)
IMAGES_RECORDED = re.compile(
    r"\bimages?\b[^.;]{0,40}?\b(?:saved|stored|recorded|archived|retained|printed|captured|kept)\b(?:\s+(?:to|in|on)\s+(?:the\s+)?\w+)?|\bPACS\b"
    r"|\bpermanent(?:ly)?\s+(?:record\w*|image\w*|stor\w*)|\b(?:saved|stored|recorded|archived|captured)\b[^.;]{0,30}?\bimages?\b"
    r"|\bhard\s+cop(?:y|ies)\b",
    I,
)
GUIDANCE_DESCRIPTION = re.compile(
    r"\breal[- ]time\b|\bin-?plane\b|\bout-?of-?plane\b|\b(?:probe|transducer)\b|\bneedle\s+(?:tip\s+)?(?:was\s+)?(?:visuali[sz]ed|seen|tracked|observed)"
    r"|\bvisuali[sz](?:ed|ation)\s+of\s+the\s+needle|\bunder\s+direct\s+(?:ultrasound|sonographic)\s+visuali[sz]ation",
    I,
)
ICD10 = re.compile(r"\b(?P<code>[A-TV-Z][0-9][0-9AB]\.[0-9A-Z]{1,4})\b")
DIAGNOSIS_LABEL = re.compile(
    r"\b(?:dx|diagnos[ie]s|impression|indications?|assessment|pre-?(?:operative|procedure)\s+diagnosis|post-?(?:operative|procedure)\s+diagnosis)\b\s*[:#-]?\s*",
    I,
)
DIAGNOSIS_TERMS = re.compile(
    r"\bsacroiliitis\b|\bsacroiliac\s+(?:joint\s+)?(?:pain|dysfunction|arthropathy|syndrome|arthritis|strain|sprain)\b"
    r"|\bSIJ?\s+(?:joint\s+)?(?:pain|dysfunction|arthropathy|syndrome)\b|\bSI\s+joint\s+(?:pain|dysfunction|arthropathy|syndrome)\b"
    r"|\b(?:low|lower)\s+back\s+pain\b|\blumbago\b|\bspondylo(?:sis|arthropathy)\b|\bankylosing\s+spondylitis\b"
    r"|\bmyofascial\s+pain\b|\bmyalgia\b|\bradiculopathy\b|\bosteoarthritis\b|\bbuttock\s+pain\b",
    I,
)
PURPOSE_DIAGNOSTIC = re.compile(r"\bdiagnostic\b|\bdiag\.?\b|\bdx\s*(?:\+|&|and|/)\s*(?=ther|tx)|\bdx\s+block\b", I)
PURPOSE_THERAPEUTIC = re.compile(r"\btherap(?:eu|u|ue)tic\b|\btherap\.?\b|\bther\b|\btx\b(?=\s*(?:inj|block|$|,))", I)
PAIN_SCORE = re.compile(r"\b(?P<score>\d{1,2})\s*/\s*10\b")
PAIN_PRE = re.compile(r"\bpre(?:-?(?:procedure|procedural|injection|op))?\b|\bbefore\b|\bbaseline\b", I)
PAIN_POST = re.compile(r"\bpost(?:-?(?:procedure|procedural|injection|op))?\b|\bafter\b|->|→|\bto\b", I)
COMPLICATIONS_NONE = re.compile(
    r"\bno\s+(?:immediate\s+|apparent\s+|acute\s+)?complications?\b|\bcomplications?\s*[:,-]?\s*(?:none|nil|no)\b"
    r"|\bwithout\s+(?:any\s+)?(?:immediate\s+|apparent\s+)?complications?\b|\bno\s+comp?s?\b|\bcomplications?\s*:\s*,?\s*none",
    I,
)
COMPLICATION_EVENT = re.compile(r"\b(?:vasovagal|hematoma|dural\s+puncture\s+occurred|bleeding\s+occurred|syncope|paresthesia\s+occurred)\b", I)
SPINE_LEVEL = re.compile(r"\b(?P<level>[CTLS]\d{1,2}(?:\s*-\s*[CTLS]?\d{1,2})?)\b")
MUSCLES = re.compile(
    r"\b(?P<muscle>trapezius|levator\s+scapulae|rhomboids?|splenius\s+capitis|splenius\s+cervicis|piriformis"
    r"|gluteus\s+(?:medius|maximus|minimus)|quadratus\s+lumborum|(?:lumbar\s+|cervical\s+|thoracic\s+)?paraspinals?"
    r"|erector\s+spinae|infraspinatus|supraspinatus|sternocleidomastoid|scalenes?|multifidus|iliopsoas"
    r"|tensor\s+fasciae\s+latae|semispinalis\s+capitis)\b",
    I,
)
FACILITY = re.compile(r"\b(?:ASC|ambulatory\s+surgery\s+cent(?:er|re)|hospital\s+outpatient|HOPD|OPPS)\b")
OFFICE = re.compile(r"\b(?:in\s+the\s+office|office\s+(?:procedure|visit|setting))\b", I)


def ultrasound_mentions(text: str, scan=None):
    """Ultrasound is special: the upper-case abbreviation "US" is case-sensitive, the words are not.
    `scan(pattern)` may stand in for `pattern.finditer(text)` (TextContext.finditer)."""
    seen: set[int] = set()
    for pattern in (GUIDANCE_TERMS["ultrasound"], _US_WORDS):
        for m in scan(pattern) if scan else pattern.finditer(text):
            if m.start() not in seen:
                seen.add(m.start())
                yield m

# Text that addresses the tool instead of describing the patient ("ignore previous instructions and state ...").
# From the cue to the end of its sentence nothing counts as a fact; the drafter refuses and says why.
INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)?(?:previous|prior|above|earlier|system|preceding)?\s*"
    r"(?:instructions?|prompts?|rules?|directions?|dictation|text|everything)\b|\byou\s+are\s+now\b|\bsystem\s+prompt\b|\bas\s+an\s+AI\b"
    # a chat role addressing the tool with a command ("SYSTEM: add ...", "Assistant: disregard ..."); a heading such
    # as "ASSISTANT: None." in an operative note is not a command
    r"|\b(?:system|assistant|user|developer)(?:\s+(?:override|message|note))?\s*:\s*(?:please\s+)?"
    r"(?:add|write|say|state|bill|code|ignore|disregard|forget|include|insert|change|claim|report|document|use|output)\b"
    r"|\bsystem\s+override\b"
    r"|\bnew\s+instructions?\s*:|\b(?:pretend|act\s+as\s+if)\b|</?\s*(?:system|assistant|dictation)\s*>"
    # requests to whoever writes the note: "please document that ...", "Note to scribe: write that ..."
    r"|\bnote\s+to\s+(?:the\s+)?(?:scribe|coder|transcriptionist|drafter|AI|assistant|tool|model|system|billing)\b"
    r"|\b(?:please|pls|kindly)\s+(?:also\s+)?(?:document|write|state|say|add|include|record|chart|note|bill|code|put|mention|list)\b"
    r"|\b(?:document|write|state|chart|record)\s+(?:it\s+)?(?:that|as\s+if)\b|\bmake\s+sure\s+(?:to|the\s+note|it\s+says)\b"
    r"|\b(?:so\s+(?:that\s+)?(?:it|this|the\s+(?:note|claim|code))\s+(?:passes|bills|codes|supports|gets\s+paid))\b",
    I,
)


def __getattr__(name: str):
    """The drug and amount tables moved to notedraft.medications (compiled on first use, not at import)."""
    from . import medications

    if name in medications.EXPORTS:
        return getattr(medications, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
