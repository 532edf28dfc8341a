"""What a clause's wording says about a promise (zh/en): a yes, a question, an offer, an ask of
the other side, or words that never bind (a hedge, advice, a condition, the past, a pitch)."""

from __future__ import annotations

import re

from nlp.due_dates import DATE_RE

_ACCEPT = re.compile(
    r"^(?:好的|好|行|可以|没问题|放心|成|是的|对|ok|okay|yes|yeah|yep|sure|will do|no problem|"
    r"absolutely|of course|"
    r"agreed|deal|that works|sounds good|fine)"
    r"(?:[，,.!！。\s]|$)",
    re.IGNORECASE,
)
_BARE_WORDS = re.compile(
    r"\b(?:i|i'll|i will|we|we'll|will|do|it|that|this|sure|okay|ok|agreed|understood|noted|"
    r"absolutely|of course|great|good|fine|yes|yeah|no problem|deal|consider it done|done|"
    r"on it|then|so|and|me|you|too|definitely|right|sounds good|perfect|got it|works)\b|"
    r"好的|好|行|可以|没问题|放心|收到|明白|了解|嗯|对|这个|那个|您|你|我们|我|一起|就|马上|"
    r"会|来|办|安排|准备|跟进|处理|吧|啊|呢|了|的|也|前|之前|发给|给|发|一定|肯定|没|问题|"
    r"[\s，,。.!！?？;；:：、~-]+",
)
# A clause that tells the other side what to do ("你们回去确认一下…", "您让采购…") is never the
# speaker's own promise, whatever the model says.
_TELLS_OTHER = re.compile(
    r"^(?:好的?|行|ok|那)?[，,\s]*(?:你|您)们?(?:这边|那边)?"
    r"(?:回去|先|再|把|给|跟|和|让|发|提供|准备|安排|确认|帮|尽快|抓紧|务必|一定)",
    re.IGNORECASE,
)
# ...nor is one that asks anywhere in it ("协议麻烦您让设备科发我们", "could you send…").
_ASKS = re.compile(
    r"麻烦(?:您|你)|请(?:您|你)|(?:您|你)(?:们)?(?:这边|那边)?(?:能不能|可不可以|能否)|"
    r"\bplease\b|\b(?:could|can|would) you\b|"
    # imperatives: "Send me the quote", "发我一份", "资料也顺便整理一份" (no 我 in that part)
    r"^(?:just\s+|and\s+|also\s+)?(?:send|get|give|email|forward|bring|show|call) (?:me|us)\b|"
    r"^(?:那|就)?(?:先)?(?:发|给|带)(?:我|我们)(?!们?(?:会|来|把|明天|今天))|"
    r"(?:^|[，,])[^我，,]*(?:也|一起|顺便)(?:准备|整理|弄|做|出|带)(?:一下|一份|一个)",
    re.IGNORECASE,
)
# "我需要跟finance确认一下", "I need to check with legal": the speaker's own step, not an ask.
_OWN_STEP = re.compile(
    r"(?:^|[，,\s])(?:我|我们)(?:这边)?(?:需要|得|要)(?:先)?(?:跟|和|去|回去|找|问)|"
    r"\b(?:I|we)(?:'ll)? (?:need|have) to (?:check|confirm|talk|speak|ask|run|clear|discuss)\b",
    re.IGNORECASE,
)
# "2月24号之前给您一份方案", "you'll get the quote today": the speaker hands something over.
_TO_LISTENER = re.compile(
    r"(?:给|发|交|寄|送|带)(?:给)?(?:您|你)(?!们?(?:这边|那边))|"
    r"\b(?:to you|you'll (?:get|have|receive|see))\b",
    re.IGNORECASE,
)
# "下周二上午九点我们过来，您看行吗？": the speaker's own plan put up for a yes.
_PROPOSES = re.compile(
    r"(?:您|你)看(?:行吗|可以吗|怎么样|合适吗|行不行)|"
    r"\b(?:does|would|will) that work\b|\bis that (?:ok|okay|alright)\b",
    re.IGNORECASE,
)
_WHEN = re.compile(
    r"什么时候|啥时候|何时|哪天|几号|多久|\bwhen\b|\bhow (?:soon|long)\b|\bwhat date\b",
    re.IGNORECASE,
)
# Verbs after "you" that say what the listener thinks, can or is, not a step they take.
_NOT_A_DEED = (
    r"(?:think|guess|mean|know|see|hope|feel|agree|believe|understand|can|could|would|should|"
    r"might|may|must|do|did|don't|didn't|are|were|was|have|had|want|need|said|told|got|like|love)"
)
# In a recap the speaker restates the other side's part: "your biomed team pulls the logs by
# Monday", "you'll get the redlines to me by the 17th", "您这边周五前把单据发过来".
_OTHER_DOES = re.compile(
    r"^(?:and\s+|then\s+|so\s+|那)?(?:your\s+(?!\w+\s+(?:is|are|was|were|stays)\b)\w+(?:\s+team)?"
    r"\s+(?:will\s+)?\w+s\b|you(?:'ll| will) (?:get|have) .{0,60}\bto (?:me|us)\b|"
    r"you(?:'ll| will) (?!get|have|receive|see|hear|find|like|love|need)\w+|"
    # a recap in the present: "you send the renewal file by the 19th, I send the pack"
    rf"you (?!{_NOT_A_DEED}\b)[a-z]+\b(?=.*\b(?:by|before|on|today|tomorrow)\b)|"
    r".{0,6}?(?:您|你)们?(?:这边|那边)(?!.{0,6}(?:收到|拿到))|"
    # "您下周一前合同盖章寄回", "你们月底前给预测": the other side's part, with its deadline
    r"(?:您|你)们?(?:下|本|明天|今天|今晚|月底|这周|这个月|这礼拜|最晚|尽快|\d))",
    re.IGNORECASE,
)
# An offer ("我们可以…", "we could…") binds the speaker only once the other side says yes.
_OFFER = re.compile(
    r"^(?:好的?|行|ok|so|and|also|那|另外)?[，,\s]*"
    r"(?:(?:我们|我)(?:这边)?也?(?:可以|能)|(?:we|i) (?:can|could)\b|可以(?![，,。.\s]))|"
    r"[，,](?:我们|我)(?:这边)?也?可以",
    re.IGNORECASE,
)
_NEVER_BINDS = re.compile(
    "|".join(
        [
            # hedges: "I'll try to get out here more often", "尽量…不过不保证"
            r"\b(?:try to|no promises|can't promise|hopefully)\b|尽量|不保证|说不准",
            # figures of speech: "I'll give you that", "I'll be quick", "跟你交个底"
            r"\bI'll (?:give you that|be (?:quick|brief|honest|frank|straight)|admit)\b",
            r"交个底|说实话|实话实说|\bget (?:straight )?to (?:it|the point)\b",
            # greetings and introductions: "周老板您好 我是…的小刘", "Hi Dana, good to see you"
            r"^.{0,8}(?:您好|你好|好久不见)|^(?:hi|hello|good (?:morning|afternoon))\b|"
            r"\bnice to (?:meet|see) you\b|\bthanks for (?:having|seeing) (?:me|us)\b",
            # advice and invitations: "最好这两个月换一下", "we should aim", "你有空可以来"
            r"最好|建议(?:您|你)|\b(?:you|we) should\b|\bI'd (?:recommend|suggest)\b|有空可以",
            # conditions: "if the trial goes well, I'll…", "要是…的话"
            r"^(?:and\s+|so\s+|alright,?\s+)?if\b|如果|要是|假如|万一",
            # what can't be done: "I can't honestly tick the boxes", "这个我们没法保证"
            r"\b(?:can't|cannot|won't be able to)\b|没法|做不到|办不到",
            # deferrals: "渗透测试的事，等参观完再说", "let's see"
            r"再说|\blet's see\b",
        ]
    ),
    re.IGNORECASE,
)
_PAST = re.compile(
    r"\b(?:already|last (?:week|month|year|time)|yesterday|ago)\b|已经|昨天|上周|上次|上个月|"
    r"\b(?:I|we) (?:sent|called|found|escalated|checked|spoke|talked|told)\b|"
    r"\b(?:I|we)'ve (?:had|been|tried|seen|sent|done)\b|\b(?:have|has) been\b",
    re.IGNORECASE,
)
_FUTURE = re.compile(
    r"\b(?:will|I'll|we'll|going to|gonna|let me)\b|会|再|回去|马上|下周|明天",
    re.IGNORECASE,
)


# "Monday's fine for the logs.", "周一没问题。": a yes at the end of the first sentence
_ACCEPT_LATE = re.compile(
    r"^[^.!?。！？]{0,30}(?:没问题|可以的?|\b(?:is|'s) fine\b|\bworks for (?:me|us)\b)"
    r"[^.!?。！？，,]{0,20}[.!。！，,]",
    re.IGNORECASE,
)


def is_accept(clause: str) -> bool:
    """A clause that opens with a yes ("好的，…", "Sure, …")."""
    return bool(_ACCEPT.match(clause.strip()))


def says_yes(turn: str) -> bool:
    """A reply that agrees: it opens with a yes or its first sentence says one."""
    return is_accept(turn) or bool(_ACCEPT_LATE.match(turn.strip()))


_CAN_ASK = re.compile(
    r"能不能|可不可以|能否|可以吗|行吗|\b(?:can|could|would|will) you\b", re.IGNORECASE
)


def asks_for(clause: str) -> bool:
    """A question that asks the other side to do something ("能不能四月中旬之前交付？")."""
    return is_question(clause) and bool(_CAN_ASK.search(clause))


def is_question(clause: str) -> bool:
    return "?" in clause or "？" in clause or clause.rstrip(" 。.").endswith("吗")


def is_bare(clause: str) -> bool:
    """A yes with nothing of its own to do ("Will do.", "好的", "没问题，我一起准备")."""
    rest = _BARE_WORDS.sub(" ", DATE_RE.sub(" ", clause.lower()))
    cjk = re.sub(r"[^\u4e00-\u9fff]", "", rest)
    return len(cjk) <= 2 and not re.search(r"[a-z0-9]", rest)


def asks_other(clause: str) -> bool:
    """The clause tells or asks the other side to do something."""
    return bool(_TELLS_OTHER.match(clause) or _ASKS.search(clause))


def is_own_step(clause: str) -> bool:
    """ "我需要跟finance确认", "I need to check with legal": the speaker's to-do, not an ask."""
    return bool(_OWN_STEP.search(clause))


def other_does(clause: str) -> bool:
    """The speaker restates what the other side will do ("your team pulls the logs by Monday")."""
    return bool(_OTHER_DOES.match(clause.strip()))


def to_listener(clause: str) -> bool:
    """The speaker hands something to the listener ("…给您一份方案", "you'll get the quote")."""
    return bool(_TO_LISTENER.search(clause)) and not _ASKS.search(clause)


def proposes(clause: str) -> bool:
    """The speaker's own plan put to the other side for a yes ("我们下周二过来，您看行吗？")."""
    return bool(_PROPOSES.search(clause))


def asks_when(text: str) -> bool:
    """A question about when ("什么时候能到？", "When can we have it?")."""
    return bool(_WHEN.search(text)) and is_question(text)


def is_offer(clause: str) -> bool:
    return bool(_OFFER.search(clause))


def never_binds(clause: str) -> bool:
    """A hedge, a figure of speech, advice, a condition, or a report of what was done."""
    if _NEVER_BINDS.search(clause):
        return True
    past = bool(_PAST.search(clause))
    return past and not (_FUTURE.search(clause) or DATE_RE.search(clause))
