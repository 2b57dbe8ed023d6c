// The votes panels the views show: the chair's console (open a vote, live counts, close it,
// the result), the bridge point's large board (and its room's ballot where bridge points
// vote) and the delegate's ballot with its confirmation step, receipt and change; a vote with
// a time limit counts down on each of them.

import { useEffect, useState } from "preact/hooks";
import type { VoteOut } from "../generated/wire";
import { formatDuration, formatPercent, formatTime, t, type MessageKey } from "../i18n/i18n";
import type { ServerClock } from "../meetings/clock";
import type { MeetingState } from "../meetings/state";
import type { Screen } from "../session/screen";
import { failureText, useAction } from "../ui/components";
import { useLang, useServerNow } from "../ui/hooks";
import {
    ReceiptBook,
    ballotProblem,
    countedFor,
    deadlineSeconds,
    featured,
    isElector,
    isYesNo,
    namedChoices,
    optionRows,
    parseOptions,
    receiptHash,
    toggled,
    voteCountdown,
    type MajorityRule,
    type VoteKind,
    type VoteSpec,
} from "./votes";
import "./votes.css";

const RECEIPTS = new ReceiptBook();
const OPTION_KEYS: readonly MessageKey[] = ["vote.opt.agree", "vote.opt.disagree", "vote.opt.abstain"];

/** An option as this screen shows it (the agree / disagree / abstain ones in its language). */
function optionText(vote: VoteOut, index: number): string {
    const key = isYesNo(vote) ? OPTION_KEYS[index] : undefined;
    return key ? t(key) : (vote.options[index] ?? String(index));
}

/** The question and how the vote runs; while open with a time limit, its countdown. */
function VoteHead(props: { vote: VoteOut; state: MeetingState; clock: ServerClock | null | undefined }) {
    const v = props.vote;
    const item = props.state.meeting.agenda.find((i) => i.id === v.agenda_item_id);
    return (
        <>
            <p class="vote-question" data-vote-question={v.id}>{v.question}</p>
            <p class="muted">
                <span data-vote-state={v.state}>{t(v.state === "open" ? "vote.state.open" : "vote.state.closed")}</span>
                {" · "}{t(`vote.kind.${v.kind}`)}{" · "}{t(`vote.rule.${v.rule}`)}
                {item ? <>{" · "}{t("vote.onItem", { item: item.title })}</> : null}
                {v.state === "open" && v.deadline ? <>{" · "}{t("vote.deadlineAt", { time: formatTime(v.deadline) })}</> : null}
            </p>
            {v.state === "open" && v.deadline ? <Countdown vote={v} clock={props.clock} /> : null}
        </>
    );
}

/** The time left to vote, on the server's clock. At zero it says the result is awaited: the
 * vote closes on this screen when the server's `vote.closed` arrives, not by this timer. */
function Countdown(props: { vote: VoteOut; clock: ServerClock | null | undefined }) {
    const c = voteCountdown(props.vote, useServerNow(props.clock, 250));
    if (!c) return null;
    const [kind, text] =
        c.kind === "due" ? ["due", t("vote.countdown.due")]
        : c.warn ? ["warning", t("vote.countdown.warn", { time: formatDuration(c.seconds) })]
        : ["remaining", t("vote.countdown", { time: formatDuration(c.seconds) })];
    return (
        <p class={`vote-countdown ${kind}`} role="timer" data-vote-countdown={props.vote.id} data-kind={kind}
            data-seconds={c.kind === "due" ? 0 : c.seconds}>
            {text}
        </p>
    );
}

/** How many have voted and, for an open or named vote, the count of each option (live). */
export function LiveCounts(props: { vote: VoteOut }) {
    const v = props.vote;
    return (
        <div class="vote-live" role="status" aria-live="polite" data-vote-live={v.id}>
            <p class="vote-voted" data-ballots={v.ballots}>{t("vote.voted", { ballots: v.ballots, electors: v.electors.length })}</p>
            {v.kind === "secret" ? <p class="muted">{t("vote.secretCounts")}</p> : <OptionBars vote={v} />}
        </div>
    );
}

function OptionBars(props: { vote: VoteOut }) {
    const v = props.vote;
    return (
        <ul class="plain vote-bars">
            {optionRows(v).map((r) => (
                <li key={r.index} class={r.chosen ? "chosen" : ""} data-option={r.index} data-count={r.count ?? ""}>
                    <span class="vote-option">{optionText(v, r.index)}{r.chosen ? <span class="vote-tick"> ✓<span class="visually-hidden"> {t("vote.chosen")}</span></span> : null}</span>
                    <span class="vote-count">
                        {r.count === null ? "—" : r.share === null ? t("vote.count.bare", { count: r.count }) : t("vote.count", { count: r.count, share: formatPercent(r.share) })}
                    </span>
                    <span class="vote-bar" aria-hidden="true"><span style={{ width: `${String(Math.round((r.share ?? 0) * 100))}%` }} /></span>
                </li>
            ))}
        </ul>
    );
}

/** A closed vote's result: the outcome with the rule applied, the counts, the named list. */
export function VoteResult(props: { vote: VoteOut }) {
    const v = props.vote;
    const r = v.result;
    if (!r) return null;
    const named = namedChoices(v);
    return (
        <div class="vote-result" role="status" data-vote-result={v.id} data-outcome={r.outcome}>
            <p class={`vote-outcome ${r.outcome === "passed" || r.outcome === "elected" ? "ok" : "bad"}`}>{t(`vote.outcome.${r.outcome}`)}</p>
            <p class="vote-figures">{t("vote.figures", { ballots: r.ballots, electors: r.electors, required: r.required, base: r.base })}{r.tie ? ` · ${t("vote.tie")}` : ""}</p>
            <OptionBars vote={v} />
            <p class="vote-statement" lang="vi">{r.statement}</p>
            {named.length > 0 ? (
                <details class="vote-named" open>
                    <summary>{t("vote.named")}</summary>
                    <table>
                        <thead><tr><th scope="col">{t("vote.named.who")}</th><th scope="col">{t("vote.named.choice")}</th></tr></thead>
                        <tbody>
                            {named.map((n) => (
                                <tr key={n.subject} data-subject={n.subject}>
                                    <td>{n.name}</td>
                                    <td>{n.options.length ? n.options.join(", ") : <span class="muted">{t("vote.named.didNot")}</span>}</td>
                                </tr>
                            ))}
                        </tbody>
                    </table>
                </details>
            ) : null}
        </div>
    );
}

// -- the chair ---------------------------------------------------------------------------

interface Candidate { subject: string; name: string }

/** Who the chair may name as voters: the invited delegates (and bridge points), with the
 * names the roll call or the presence list gives. */
function candidates(s: MeetingState, bridgePoints: boolean): Candidate[] {
    const names = new Map<string, string>();
    for (const d of s.rollcall?.result?.delegates ?? []) names.set(`user:${String(d.id)}`, d.name);
    for (const b of s.rollcall?.result?.bridge_points ?? []) names.set(`bridge_point:${String(b.id)}`, b.name);
    for (const p of s.presence) names.set(`${p.kind}:${String(p.id)}`, p.name);
    const subjects = [
        ...s.meeting.delegate_ids.map((id) => `user:${String(id)}`),
        ...(bridgePoints ? s.meeting.bridge_point_ids.map((id) => `bridge_point:${String(id)}`) : []),
    ];
    return subjects.map((subject) => ({ subject, name: names.get(subject) ?? subject }));
}

function OpenVoteForm(props: { screen: Screen; state: MeetingState }) {
    const [error, run] = useAction();
    const [question, setQuestion] = useState("");
    const [list, setList] = useState(false);
    const [options, setOptions] = useState("");
    const [maxChoices, setMaxChoices] = useState("1");
    const [kind, setKind] = useState<VoteKind>("open");
    const [electorate, setElectorate] = useState<"present" | "named">("present");
    const [voters, setVoters] = useState<string[]>([]);
    const [bridgePoints, setBridgePoints] = useState(false);
    const [allowChange, setAllowChange] = useState(false);
    const [rule, setRule] = useState<MajorityRule>("present");
    const [deadline, setDeadline] = useState("");
    const [problem, setProblem] = useState<string | null>(null);
    const m = props.state.meeting;
    const item = m.agenda.find((i) => i.id === m.current_agenda_item_id);
    const people = candidates(props.state, bridgePoints);
    const submit = (ev: Event) => {
        ev.preventDefault();
        setProblem(null);
        const seconds = deadlineSeconds(deadline);
        if (seconds === "bad") { setProblem(t("vote.deadline.bad")); return; }
        const opts = list ? parseOptions(options) : null;
        if (opts && opts.length < 2) { setProblem(t("vote.options.few")); return; }
        const spec: VoteSpec = {
            question: question.trim(),
            agenda_item_id: m.current_agenda_item_id ?? null,
            kind,
            options: opts,
            max_choices: opts ? Math.max(1, Math.min(opts.length, Number(maxChoices) || 1)) : 1,
            rule,
            electorate,
            voters: electorate === "named" ? voters.filter((v) => people.some((p) => p.subject === v)) : [],
            bridge_points_vote: bridgePoints,
            allow_change: allowChange,
            deadline_seconds: seconds,
        };
        run(async () => {
            await props.screen.votes?.open(spec);
            setQuestion("");
        });
    };
    return (
        <form class="vote-form" onSubmit={submit} aria-labelledby="vote-new-h">
            <h3 id="vote-new-h" class="wide">{t("vote.new")}</h3>
            <p class="muted wide">{item ? t("vote.onItem", { item: item.title }) : t("vote.noItem")}</p>
            <label class="wide">{t("vote.question")}
                <textarea name="question" required rows={2} maxLength={500} value={question} onInput={(ev) => { setQuestion(ev.currentTarget.value); }} />
            </label>
            <fieldset>
                <legend>{t("vote.options")}</legend>
                <label class="row"><input type="radio" name="options-mode" value="yesno" checked={!list} onChange={() => { setList(false); }} />{t("vote.options.yesNo")}</label>
                <label class="row"><input type="radio" name="options-mode" value="list" checked={list} onChange={() => { setList(true); }} />{t("vote.options.list")}</label>
                {list ? (
                    <>
                        <label>{t("vote.options.lines")}
                            <textarea name="options" rows={4} value={options} onInput={(ev) => { setOptions(ev.currentTarget.value); }} />
                        </label>
                        <label class="row">{t("vote.maxChoices")}
                            <input name="max_choices" type="number" min={1} max={50} size={3} value={maxChoices} onInput={(ev) => { setMaxChoices(ev.currentTarget.value); }} />
                        </label>
                    </>
                ) : null}
            </fieldset>
            <label>{t("vote.kind")}
                <select name="kind" value={kind} onChange={(ev) => { setKind(ev.currentTarget.value as VoteKind); }}>
                    {(["open", "named", "secret"] as const).map((k) => <option key={k} value={k}>{t(`vote.kind.${k}`)}</option>)}
                </select>
            </label>
            <label>{t("vote.rule")}
                <select name="rule" value={rule} onChange={(ev) => { setRule(ev.currentTarget.value as MajorityRule); }}>
                    {(["present", "members", "two_thirds"] as const).map((r) => <option key={r} value={r}>{t(`vote.rule.${r}`)}</option>)}
                </select>
            </label>
            <fieldset>
                <legend>{t("vote.electorate")}</legend>
                <label class="row"><input type="radio" name="electorate" value="present" checked={electorate === "present"} onChange={() => { setElectorate("present"); }} />{t("vote.electorate.present")}</label>
                <label class="row"><input type="radio" name="electorate" value="named" checked={electorate === "named"} onChange={() => { setElectorate("named"); }} />{t("vote.electorate.named")}</label>
                {electorate === "named" ? (
                    <ul class="plain vote-voters">
                        {people.length === 0 ? <li class="muted">{t("vote.voters.none")}</li> : null}
                        {people.map((p) => (
                            <li key={p.subject}>
                                <label class="row">
                                    <input type="checkbox" name="voter" value={p.subject} checked={voters.includes(p.subject)}
                                        onChange={(ev) => { const on = ev.currentTarget.checked; setVoters((vs) => on ? [...vs, p.subject] : vs.filter((x) => x !== p.subject)); }} />
                                    {p.name}
                                </label>
                            </li>
                        ))}
                    </ul>
                ) : null}
                <label class="row"><input type="checkbox" name="bridge_points_vote" checked={bridgePoints} onChange={(ev) => { setBridgePoints(ev.currentTarget.checked); }} />{t("vote.bridgePoints")}</label>
            </fieldset>
            <label class="row"><input type="checkbox" name="allow_change" checked={allowChange} onChange={(ev) => { setAllowChange(ev.currentTarget.checked); }} />{t("vote.allowChange")}</label>
            <label class="row">{t("vote.deadline")}
                <input name="deadline" inputMode="decimal" size={4} value={deadline} onInput={(ev) => { setDeadline(ev.currentTarget.value); }} />
            </label>
            <button type="submit" class="wide" data-action="open-vote">{t("vote.submit")}</button>
            {problem ?? error ? <p class="bad wide" role="alert">{problem ?? error}</p> : null}
        </form>
    );
}

/** The chair's votes panel: the form, each open vote with its live figures and its close
 * button, and the closed ones with their results (newest first). */
export function ChairVotes(props: { screen: Screen; state: MeetingState }) {
    useLang();
    const [error, run] = useAction();
    const m = props.state.meeting;
    const held = m.state === "open" || m.state === "live" || m.state === "paused";
    const votes = [...props.state.votes].reverse();
    return (
        <section class="panel votes" aria-labelledby="votes-h">
            <h2 id="votes-h">{t("vote.title")}</h2>
            {votes.length === 0 ? <p class="muted">{t("vote.none")}</p> : null}
            <ol class="plain vote-list">
                {votes.map((v) => (
                    <li key={v.id} data-vote={v.id} data-vote-state={v.state}>
                        <VoteHead vote={v} state={props.state} clock={props.screen.live?.stream} />
                        {v.state === "open" ? (
                            <>
                                <LiveCounts vote={v} />
                                <button type="button" class="danger" data-action="close-vote"
                                    onClick={() => { if (confirm(t("vote.close.confirm"))) run(async () => { await props.screen.votes?.close(v.id); }); }}>
                                    {t("vote.close")}
                                </button>
                            </>
                        ) : <VoteResult vote={v} />}
                    </li>
                ))}
            </ol>
            {error ? <p class="bad" role="alert">{error}</p> : null}
            {held ? <OpenVoteForm screen={props.screen} state={props.state} /> : null}
        </section>
    );
}

// -- ballots (delegate and bridge point) -------------------------------------------------

/** The caller's ballot in the open `vote`: choose, check on a confirmation step, cast; a
 * secret vote's receipt is shown (and kept for this tab) until the result checks it. Where
 * the vote allows it, "Đổi lựa chọn" goes through the same steps again and the new ballot
 * replaces the first (a secret one with the receipt of the ballot it replaces, answered with
 * a new receipt). A refused ballot says why, and the screen shows what the server holds. */
function Ballot(props: { screen: Screen; vote: VoteOut; room?: boolean }) {
    const v = props.vote;
    const me = props.screen.session.subject ?? "";
    const [picked, setPicked] = useState<number[]>([]);
    const [confirming, setConfirming] = useState(false);
    /** The caller's ballot: null, none yet; [] cast, its choice unknown here (a secret one). */
    const [voted, setVoted] = useState<number[] | null>(null);
    const [changing, setChanging] = useState(false);
    const [changed, setChanged] = useState(false);
    const [typedReceipt, setTypedReceipt] = useState("");
    const [known, setKnown] = useState(false);
    const [busy, setBusy] = useState(false);
    const [problem, setProblem] = useState<string | null>(null);
    const [error, setError] = useState<string | null>(null);
    const recheck = async () => {
        // what the server holds for this voter (back mid-vote, or after a refusal)
        const st = await props.screen.votes?.status(v.id);
        if (st?.voted) setVoted(st.choice ?? []);
    };
    useEffect(() => {
        setPicked([]); setConfirming(false); setVoted(null); setChanging(false); setChanged(false);
        setKnown(false); setError(null); setProblem(null);
        recheck().catch(() => undefined).finally(() => { setKnown(true); });
    }, [v.id]);
    useEffect(() => {
        if (confirming) document.querySelector<HTMLButtonElement>(`[data-vote-ballot="${String(v.id)}"] button[data-action=confirm-vote]`)?.focus();
    }, [confirming]);
    const receipt = RECEIPTS.of(me, v.id);
    const mayChange = v.allow_change && v.state === "open";
    const needsReceipt = changing && v.kind === "secret" && !receipt;
    const alert = problem ?? error;
    if (voted !== null && !changing) {
        return (
            <div class="vote-ballot done" data-vote-ballot={v.id} data-voted="true" data-changed={String(changed)}>
                <p class="ok" role="status">{t(changed ? (props.room ? "vote.changed.room" : "vote.changed") : (props.room ? "vote.done.room" : "vote.done"))}</p>
                {voted.length ? <p data-your-choice={voted.join(",")}>{t("vote.yourChoice", { options: voted.map((i) => optionText(v, i)).join(", ") })}</p> : null}
                {v.kind === "secret" ? <ReceiptNote vote={v} receipt={receipt} replaced={changed} /> : null}
                {mayChange ? (
                    <>
                        <p class="muted">{t("vote.change.allowed")}</p>
                        <button type="button" class="secondary" data-action="change-vote"
                            onClick={() => { setError(null); setProblem(null); setPicked(voted); setTypedReceipt(""); setChanging(true); }}>
                            {t("vote.change")}
                        </button>
                    </>
                ) : null}
                {error ? <p class="bad" role="alert">{error}</p> : null}
            </div>
        );
    }
    if (!known) return <p class="muted" role="status">{t("meeting.loading")}</p>;
    const choose = (i: number) => { setProblem(null); setPicked(toggled(v, picked, i)); };
    const review = (ev: Event) => {
        ev.preventDefault();
        setError(null);
        const why = ballotProblem(v, picked);
        if (why) { setProblem(why === "none" ? t("vote.problem.none") : t("vote.problem.tooMany", { n: v.max_choices })); return; }
        if (changing && voted?.length && sameChoice(voted, picked)) { setProblem(t("vote.problem.same")); return; }
        if (needsReceipt && !typedReceipt.trim()) { setProblem(t("vote.problem.receipt")); return; }
        setConfirming(true);
    };
    const cast = async () => {
        const votes = props.screen.votes;
        if (!votes || busy) return;
        setBusy(true);
        try {
            const old = changing && v.kind === "secret" ? (receipt ?? typedReceipt.trim().toUpperCase()) : null;
            const ballot = await votes.cast(v.id, picked, old);
            if (ballot.receipt) RECEIPTS.keep(me, v.id, ballot.receipt);
            setChanged(ballot.changed);
            setVoted(ballot.choice);
            setChanging(false);
        } catch (exc) {
            setError(t("vote.refused", { reason: failureText(exc) }));
            // a second screen of this voter may have voted: show what the server holds
            if (!changing) await recheck().catch(() => undefined);
        } finally {
            setBusy(false);
            setConfirming(false);
        }
    };
    const name = `ballot-${String(v.id)}`;
    return (
        <form class="vote-ballot" data-vote-ballot={v.id} data-changing={String(changing)} onSubmit={review}
            aria-label={t(changing ? "vote.change" : "vote.cast")}>
            {changing ? <p><strong>{t("vote.change.title")}</strong></p> : null}
            {confirming ? (
                <div class="vote-confirm" role="group" aria-labelledby={`${name}-confirm`}>
                    <p id={`${name}-confirm`}><strong>{t("vote.confirm.title")}</strong></p>
                    <p class="vote-picked">{picked.map((i) => optionText(v, i)).join(", ")}</p>
                    {v.kind === "secret" ? <p class="muted">{t("vote.confirm.secret")}</p> : null}
                    <div class="row">
                        <button type="button" data-action="confirm-vote" disabled={busy} onClick={() => void cast()}>{t("vote.confirm")}</button>
                        <button type="button" class="secondary" data-action="back" onClick={() => { setConfirming(false); }}>{t("vote.back")}</button>
                    </div>
                </div>
            ) : (
                <fieldset>
                    <legend>{v.max_choices > 1 ? t("vote.maxChoicesHint", { n: v.max_choices }) : t("vote.pickOne")}</legend>
                    {v.options.map((_, i) => (
                        <label key={i} class="vote-choice">
                            <input type={v.max_choices === 1 ? "radio" : "checkbox"} name={name} value={i} data-option={i}
                                checked={picked.includes(i)} onChange={() => { choose(i); }} />
                            <span>{optionText(v, i)}</span>
                        </label>
                    ))}
                    {needsReceipt ? (
                        <label class="vote-old-receipt">{t("vote.change.receipt")}
                            <input name="old-receipt" autoComplete="off" spellcheck={false} maxLength={19} size={19}
                                aria-describedby={`${name}-receipt-help`} value={typedReceipt}
                                onInput={(ev) => { setProblem(null); setTypedReceipt(ev.currentTarget.value); }} />
                            <span id={`${name}-receipt-help`} class="muted">{t("vote.change.receiptHelp")}</span>
                        </label>
                    ) : null}
                    <div class="row">
                        <button type="submit" data-action="cast-vote">{t("vote.cast")}</button>
                        {changing ? (
                            <button type="button" class="secondary" data-action="keep-vote"
                                onClick={() => { setChanging(false); setProblem(null); setError(null); }}>
                                {t("vote.change.keep")}
                            </button>
                        ) : null}
                    </div>
                </fieldset>
            )}
            {alert ? <p class="bad" role="alert">{alert}</p> : null}
        </form>
    );
}

function sameChoice(a: readonly number[], b: readonly number[]): boolean {
    return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A secret ballot's receipt: how to check it, and the check once the result is out. */
function ReceiptNote(props: { vote: VoteOut; receipt: string | null; replaced?: boolean }) {
    const v = props.vote;
    const [counted, setCounted] = useState<number[] | null>(null);
    useEffect(() => {
        if (!props.receipt || !v.result) return;
        void receiptHash(v.id, props.receipt).then((h) => { setCounted(countedFor(v, h)); });
    }, [v.id, v.result, props.receipt]);
    if (!props.receipt) return <p class="muted">{t("vote.receipt.lost")}</p>;
    return (
        <div class="vote-receipt">
            <p>{t("vote.receipt")}: <code class="receipt" data-receipt={props.receipt}>{props.receipt}</code></p>
            {props.replaced ? <p class="warn" data-receipt-replaced="true">{t("vote.receipt.replaced")}</p> : null}
            <p class="muted">{t("vote.receipt.help", { vote: v.id })}</p>
            {v.result ? (
                counted === null ? <p role="status">{t("vote.receipt.checking")}</p>
                : counted.length ? <p class="ok" role="status" data-receipt-check="counted">{t("vote.receipt.counted", { options: counted.map((i) => optionText(v, i)).join(", ") })}</p>
                : <p class="bad" role="status" data-receipt-check="missing">{t("vote.receipt.missing")}</p>
            ) : null}
        </div>
    );
}

/** The delegate's votes panel: the vote of the moment, a ballot while it is open (for an
 * elector), then its result (and the receipt's check). */
export function DelegateVote(props: { screen: Screen; state: MeetingState }) {
    useLang();
    const v = featured(props.state);
    if (!v) return null;
    const me = props.screen.session.subject;
    const mine = isElector(v, me);
    return (
        <section class="panel votes" aria-labelledby="vote-h" data-vote={v.id} data-vote-state={v.state}>
            <h2 id="vote-h">{t("vote.title")}</h2>
            <VoteHead vote={v} state={props.state} clock={props.screen.live?.stream} />
            {v.state === "open" ? (
                <>
                    {mine ? <Ballot screen={props.screen} vote={v} /> : <p class="muted">{t("vote.notElector")}</p>}
                    <LiveCounts vote={v} />
                </>
            ) : (
                <>
                    <VoteResult vote={v} />
                    {mine && v.kind === "secret" ? <ReceiptNote vote={v} receipt={RECEIPTS.of(me ?? "", v.id)} /> : null}
                </>
            )}
        </section>
    );
}

/** The bridge point's board: the vote of the moment, large; its room's ballot where bridge
 * points vote; the result until the next vote (or until hidden). */
export function VoteBoard(props: { screen: Screen; state: MeetingState }) {
    useLang();
    const [hidden, setHidden] = useState<number | null>(null);
    const v = featured(props.state);
    if (!v || (v.state === "closed" && hidden === v.id)) return null;
    const me = props.screen.session.subject;
    return (
        <section class="vote-board" aria-labelledby="board-h" data-vote={v.id} data-vote-state={v.state}>
            <h2 id="board-h">{t("vote.title")}</h2>
            <VoteHead vote={v} state={props.state} clock={props.screen.live?.stream} />
            {v.state === "open" ? (
                <div class="board-cols">
                    <LiveCounts vote={v} />
                    {isElector(v, me) ? <Ballot screen={props.screen} vote={v} room /> : null}
                </div>
            ) : (
                <>
                    <VoteResult vote={v} />
                    <button type="button" class="secondary" data-action="hide-vote" onClick={() => { setHidden(v.id); }}>{t("vote.hide")}</button>
                </>
            )}
        </section>
    );
}
