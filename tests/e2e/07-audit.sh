#!/bin/bash
# The audit log (docs/audit.md): a portal's inclusion proof verifies with an
# independent implementation (tests/audit/verify_proof.py) and with gwctl;
# gwctl audit verify passes on the real log and, on copies of the database
# tampered with by hand (a field changed, an event deleted, two swapped, the
# log truncated, a tree head replaced, one forged with another key), fails
# and names the position; a log written while the gateway is killed with
# SIGKILL verifies after the restart and covers every receipt; retention
# deletes delivered bodies with an audit event; show, search and export.
. "$(dirname "$0")/lib.sh"

# A port of our own: the gateway binds with SO_REUSEPORT, so a port another
# gateway already listens on would be shared silently.
for _ in $(seq 1 50); do
	PORT=$((30000 + RANDOM % 10000))
	ss -ltn 2>/dev/null | grep -q ":$PORT " || break
done
URL="https://127.0.0.1:$PORT"
PY="$ROOT/tests/audit/verify_proof.py"
audit() { "$GWCTL" audit "$@"; }

# receipt_field FILE NAME: a field of a receipt.
receipt_field() { xpath "$1" "string(//*[local-name()='$2'])"; }

# sealed_size: TreeSize of the latest checkpoint (0 before the first).
sealed_size() {
	as portal-1 -o "$T/cp.xml" "$URL/v1/audit/checkpoint" 2>/dev/null
	local n; n=$(receipt_field "$T/cp.xml" TreeSize)
	echo "${n:-0}"
}

# wait_sealed INDEX: until a checkpoint covers leaf INDEX (at most ~20 s).
wait_sealed() {
	for _ in $(seq 1 200); do
		[ "$(sealed_size)" -gt "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

start_gw

# ---- a few submissions, one of them fetched and closed ----
ids=() idx=()
for i in 1 2 3 4; do
	make_signed "$T/s$i.xml" --id "audit-$i" || fail "sign sample $i"
	code=$(post_xml portal-1 "$T/s$i.xml" "$T/r$i.xml")
	[ "$code" = 202 ] || fail "submit $i answers $code"
	ids+=("$(receipt_field "$T/r$i.xml" MessageID)")
	idx+=("$(receipt_field "$T/r$i.xml" LogIndex)")
done
check "receipts name increasing log indexes" \
	test "${idx[0]}" -lt "${idx[1]}" -a "${idx[2]}" -lt "${idx[3]}"
as authority-a -o "$T/env1.xml" "$URL/v1/mailbox/${ids[0]}"
as authority-a -o /dev/null -X POST "$URL/v1/mailbox/${ids[0]}/close"
check "a checkpoint covers the last receipt within seconds" wait_sealed "${idx[3]}"

# ---- proofs ----
code=$(as portal-1 -o "$T/proof.xml" -w '%{http_code}' "$URL/v1/submissions/${ids[1]}/proof")
expect_eq "GET /v1/submissions/ID/proof answers 200" 200 "$code"
expect_eq "the proof is of the receipt's LogIndex" "${idx[1]}" \
	"$(receipt_field "$T/proof.xml" LeafIndex)"
check "the proof verifies with the independent Python implementation" \
	python3 "$PY" "$T/proof.xml" "$DEV/gateway.pem" "${ids[1]}"
check "the proof verifies with gwctl audit check-proof" \
	audit check-proof --cert "$DEV/gateway.pem" "$T/proof.xml"
# The same proof with one path hash changed must fail both.
h=$(xpath "$T/proof.xml" "string((//*[local-name()='Hash'])[1])")
hx=$(echo "$h" | base64 -d | od -An -tx1 | tr -d ' \n')
bad=$(printf '%s' "${hx:0:62}$(printf '%02x' $(( (16#${hx:62:2}) ^ 1 )))" |
	sed 's/../\\x&/g' | xargs -0 printf '%b' | base64 -w0)
sed "s|<Hash>$h</Hash>|<Hash>$bad</Hash>|" "$T/proof.xml" >"$T/proof-bad.xml"
python3 "$PY" "$T/proof-bad.xml" "$DEV/gateway.pem" >"$T/py.out"
expect_eq "a proof with a changed path hash fails in Python" 1 "$?"
check "... because the path does not lead to the root" grep -q "RootHash" "$T/py.out"
audit check-proof --cert "$DEV/gateway.pem" "$T/proof-bad.xml" 2>"$T/err"
expect_eq "a proof with a changed path hash fails in gwctl" 1 "$?"
check "... naming its position" grep -q "FAILED at seq $((idx[1] + 1)) " "$T/err"
check "a proof checked with another certificate fails" \
	not audit check-proof --cert "$DEV/portal-1.pem" "$T/proof.xml" 2>/dev/null
check "gwctl audit prove from the API as the portal verifies" \
	audit prove --dev "$DEV" --as portal-1 --gateway "$URL" -o "$T/prove-api.xml" "${ids[2]}"
audit prove --db "$DEV/gateway.db" --gateway-cert "$DEV/gateway.pem" "${ids[2]}" \
	>"$T/prove-db.xml" || fail "gwctl audit prove from the database"
check "the database's proof verifies in Python" \
	python3 "$PY" "$T/prove-db.xml" "$DEV/gateway.pem" "${ids[2]}"
check "an authority's proof request is refused" not \
	audit prove --dev "$DEV" --as authority-a --gateway "$URL" "${ids[2]}" 2>/dev/null

# ---- verify, show, search, export on the live database ----
check "gwctl audit verify passes on the live log" audit verify --dev "$DEV"
audit show --dev "$DEV" "${ids[0]}" >"$T/show.txt" || fail "gwctl audit show"
for e in submission.accepted message.encrypted mailbox.fetched mailbox.closed; do
	check "show lists $e" grep -q " $e " "$T/show.txt"
done
check "show has the reader's state" grep -q "authority-a: delivered" "$T/show.txt"
n=$(audit search --dev "$DEV" --portal portal-1 --event 'submission.*' | grep -c ' submission.accepted ')
expect_eq "search --portal --event finds the 4 acceptances" 4 "$n"
n=$(audit search --dev "$DEV" --authority authority-a --event mailbox.closed | grep -c "${ids[0]}")
expect_eq "search --authority finds the close" 1 "$n"
check "search --from in the future finds nothing" \
	grep -q "no matching events" <(audit search --dev "$DEV" --from 2999-01-01T00:00:00Z)
audit export --dev "$DEV" -o "$T/export.jsonl" || fail "gwctl audit export"
expect_eq "export has one line per sealed event" \
	"$(tail -n 1 "$T/export.jsonl" | sed -n 's/.*"tree_size":\([0-9]*\).*/\1/p')" \
	"$(grep -c '"type":"event"' "$T/export.jsonl")"
check "export -> verify --export round trip" \
	audit verify --export "$T/export.jsonl" --cert "$DEV/gateway.pem"
k=$((idx[2] + 1))
sed "/\"seq\":$k,/s/\"actor\":\"portal-1\"/\"actor\":\"portal-2\"/" "$T/export.jsonl" >"$T/export-bad.jsonl"
audit verify --export "$T/export-bad.jsonl" --cert "$DEV/gateway.pem" 2>"$T/err" &&
	fail "a changed export verifies"
check "a changed export names seq $k" grep -q "FAILED at seq $k " "$T/err"

# ---- retention: 0 days for authority-a, applied at the next start ----
stop_gw
echo "retention = 0" >>"$DEV/profiles/authority-a.conf"
start_gw	# retention runs at start, before the gateway serves
expect_eq "retention: the closed message's body is purged, with one event" 1 \
	"$(audit_count message.purged)"
expect_eq "retention: its envelope is deleted" 0 "$(sqlite3 "$DEV/gateway.db" \
	"SELECT length(envelope) FROM deliveries WHERE msg_id='${ids[0]}'")"
check "retention: the event names the deleted envelope's SHA-256" \
	test "$(sqlite3 "$DEV/gateway.db" "SELECT count(*) FROM audit WHERE \
	event='message.purged' AND msg_id='${ids[0]}' AND detail LIKE \
	'%$(sha256sum "$T/env1.xml" | cut -d' ' -f1)%'")" = 1
expect_eq "retention: waiting messages keep their bodies" 3 "$(sqlite3 "$DEV/gateway.db" \
	"SELECT count(*) FROM deliveries WHERE length(envelope) > 0")"
expect_eq "retention: the digest and receipt stay" 1 "$(sqlite3 "$DEV/gateway.db" \
	"SELECT count(*) FROM messages WHERE id='${ids[0]}' AND length(receipt) > 0 AND sha256 <> ''")"

# A retention that is not a number of days stops the gateway at start.
cp -r "$DEV" "$T/dev2"
echo "retention = forever" >>"$T/dev2/profiles/authority-b.conf"
timeout 20 "$GATEWAYD" --dev "$T/dev2" --listen "127.0.0.1:$PORT" >"$T/dev2.out" 2>&1
expect_eq "a bad retention stops the gateway" 1 "$?"
check "... naming the file and the key" \
	grep -q "authority-b.conf:[0-9]*: retention must be" "$T/dev2.out"

# ---- crash safety: SIGKILL while submissions are under way ----
# Each round submits new documents one after the other, then replays the
# last (a replay is an audit event too), until the gateway is killed.
for i in $(seq 1 24); do make_signed "$T/c$i.xml" --id "crash-$i"; done
for round in 1 2 3; do
	[ -n "$GWPID" ] || start_gw
	( for j in $(seq 1 8); do
		n=$(( (round - 1) * 8 + j ))
		post_xml portal-1 "$T/c$n.xml" "$T/cr$n.xml" >"$T/cc$n" 2>/dev/null ||
			exit 0
	done
	while post_xml portal-1 "$T/c$n.xml" /dev/null >/dev/null 2>&1; do :; done
	) &
	sub=$!
	sleep 0.$((1 + 2 * round))
	kill9_gw
	wait "$sub"
done
start_gw
accepted=0 max=0 covered=0
for n in $(seq 1 24); do
	[ "$(cat "$T/cc$n" 2>/dev/null)" = 202 ] || continue
	accepted=$((accepted + 1))
	li=$(receipt_field "$T/cr$n.xml" LogIndex)
	id=$(receipt_field "$T/cr$n.xml" MessageID)
	[ "$li" -gt "$max" ] && max=$li
	[ "$(sqlite3 "$DEV/gateway.db" "SELECT count(*) FROM audit WHERE \
		seq=$((li + 1)) AND event='submission.accepted' AND msg_id='$id'")" = 1 ] &&
		covered=$((covered + 1))
done
check "some submissions were accepted between the kills ($accepted)" test "$accepted" -gt 0
check "after the restart a checkpoint covers every receipt" wait_sealed "$max"
expect_eq "every receipt's LogIndex is its submission.accepted event" "$accepted" "$covered"
stop_gw
check "gwctl audit verify passes after the crashes" audit verify --dev "$DEV"

# ---- tampering with copies of the database ----
sqlite3 "$DEV/gateway.db" "VACUUM INTO '$T/base.db'"
N=$(sqlite3 "$T/base.db" "SELECT max(seq) FROM audit")
L=$(sqlite3 "$T/base.db" "SELECT max(tree_size) FROM checkpoints")
M=$(sqlite3 "$T/base.db" "SELECT tree_size FROM checkpoints ORDER BY tree_size LIMIT 1 OFFSET 2")
expect_eq "the clean stop sealed every event" "$N" "$L"
check "the untouched copy verifies" audit verify --db "$T/base.db" --cert "$DEV/gateway.pem"

# tamper NAME SQL: a copy changed by SQL (append-only triggers dropped).
tamper() {
	cp "$T/base.db" "$T/$1.db"
	sqlite3 "$T/$1.db" "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;
		DROP TRIGGER checkpoints_no_update; DROP TRIGGER audit_nodes_no_update; $2" ||
		fail "tamper $1"
}
# detects DESCRIPTION NAME POSITION: verify fails and names POSITION.
detects() {
	if audit verify --db "$T/$2.db" --cert "$DEV/gateway.pem" >"$T/$2.out" 2>&1; then
		fail "$1: verify passed"
	elif grep -q "FAILED at $3[ :]" "$T/$2.out"; then
		pass "$1: verify names $3"
	else
		fail "$1: verify did not name $3: $(cat "$T/$2.out")"
	fi
}
k=$((idx[1] + 1))
tamper field "UPDATE audit SET detail = detail || ' ' WHERE seq = $k"
detects "a changed field" field "seq $k"
tamper deleted "DELETE FROM audit WHERE seq = $k"
detects "a deleted event" deleted "seq $k"
a=$((idx[2] + 1)) b=$((idx[2] + 2))
tamper swapped "CREATE TEMP TABLE t AS SELECT * FROM audit WHERE seq IN ($a, $b);
	UPDATE audit SET (time_ms, event, actor, msg_id, reader, code, detail) =
	(SELECT time_ms, event, actor, msg_id, reader, code, detail FROM t
	 WHERE t.seq = $a + $b - audit.seq) WHERE seq IN ($a, $b)"
detects "two events swapped" swapped "seq $a"
tamper truncated "DELETE FROM audit WHERE seq > $((N - 3))"
detects "a truncated log" truncated "seq $((N - 2))"
tamper head "UPDATE checkpoints SET root = randomblob(32) WHERE tree_size = $M"
detects "a replaced tree head" head "checkpoint tree_size $M"
# A tree head signed with a fresh key over the right text.
openssl ecparam -genkey -name prime256v1 -noout -out "$T/fake.key" 2>/dev/null
sqlite3 "$T/base.db" "SELECT hex(root), time_ms, key_sha256 FROM checkpoints \
	WHERE tree_size = $L" | {
	IFS='|' read -r root ms key
	printf 'gatewayd audit checkpoint v1\ntree_size %s\nroot %s\ntime_ms %s\nkey_sha256 %s\n' \
		"$L" "$(printf '%s' "$root" | sed 's/../\\x&/g' | xargs -0 printf '%b' |
		base64 -w0)" "$ms" "$key" >"$T/text"
}
sqlite3 "$T/base.db" "SELECT hex(signature) FROM checkpoints WHERE tree_size = $L" |
	tr -d '\n' | sed 's/../\\x&/g' | xargs -0 printf '%b' >"$T/real.sig"
openssl x509 -in "$DEV/gateway.pem" -pubkey -noout >"$T/gw.pub"
openssl dgst -sha256 -verify "$T/gw.pub" -signature "$T/real.sig" "$T/text" >/dev/null
expect_eq "the forger signs the checkpoint's real text (the real signature verifies)" 0 "$?"
openssl dgst -sha256 -sign "$T/fake.key" -out "$T/fake.sig" "$T/text"
tamper forged "UPDATE checkpoints SET signature = X'$(od -An -tx1 "$T/fake.sig" | tr -d ' \n')'
	WHERE tree_size = $L"
detects "a tree head forged with another key" forged "checkpoint tree_size $L"
tamper nodes "UPDATE audit_nodes SET hash = randomblob(32)"
check "damaged stored tree nodes are not trusted: the log still verifies" \
	audit verify --db "$T/nodes.db" --cert "$DEV/gateway.pem"
