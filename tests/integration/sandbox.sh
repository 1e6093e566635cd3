#!/usr/bin/env bash
# `agentgov sandbox show|exec` with the shipped policy's tier profiles: real shells and
# real sockets under Landlock, seccomp and rlimits.
source "$(dirname "$0")/lib.sh"
D="$T/data"
mkdir -p "$D" "$T/wd" "$T/other"
X=("$AG" --dir "$D" sandbox exec)

check_exit "show --help" 0 "$AG" sandbox --help
check_contains "help names exec" "$OUT" "sandbox exec"
check_exit "show tier 0" 0 "$AG" --dir "$D" sandbox show --tier 0
check_contains "T0 workdir read only" "$OUT" "read only"
check_contains "T0 no network" "$OUT" "none (no IP sockets)"
check_contains "T0 seccomp list" "$OUT" "ptrace"
check_contains "kernel ABI shown" "$OUT" "landlock     ABI"
check_contains "T0 keyring refused" "$OUT" "keyctl"
check_contains "T0 no unix sockets" "$OUT" "socketpair only (no socket(AF_UNIX))"
check_contains "T0 socket families" "$OUT" "socket: AF_NETLINK only"
check_exit "show tier 2 json" 0 "$AG" --dir "$D" sandbox show --tier 2 --workdir "$T/wd" --json
check_contains "json workdir_write" "$OUT" '"workdir_write":true'
check_contains "json workdir" "$OUT" "\"workdir\":\"$T/wd\""
check_eq "json parses" "$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tier"])')" 2
check_exit "show needs --tier" 1 "$AG" --dir "$D" sandbox show
check_exit "bad tier" 1 "$AG" --dir "$D" sandbox show --tier 7
check_exit "unknown subcommand" 1 "$AG" --dir "$D" sandbox frob --tier 1

# Filesystem: T0 writes nothing; T1 writes its workdir only (sh exits 2 when a
# redirection cannot be opened).
check_exit "T0 cannot create in workdir" 2 "${X[@]}" --tier 0 --workdir "$T/wd" -- \
    sh -c 'echo x > made-by-t0'
check_contains "T0 shell saw the refusal" "$ERR" "ermission denied"
check_eq "T0 left no file" "$(ls "$T/wd")" ""
check_exit "T0 reads its workdir" 0 "${X[@]}" --tier 0 --workdir "$T/wd" -- sh -c 'ls . && cat /etc/hostname'
check_exit "T1 writes in workdir" 0 "${X[@]}" --tier 1 --workdir "$T/wd" -- sh -c 'echo ok > made-by-t1'
check_eq "T1 file exists" "$(cat "$T/wd/made-by-t1")" ok
check_exit "T1 cannot write elsewhere" 2 "${X[@]}" --tier 1 --workdir "$T/wd" -- \
    sh -c "echo x > '$T/other/escaped'"
check_eq "nothing escaped" "$(ls "$T/other")" ""
check_exit "T1 cannot write /etc" 2 "${X[@]}" --tier 1 --workdir "$T/wd" -- sh -c 'echo x >> /etc/hosts'

# Syscalls: ptrace and mount refused in every tier.
check_exit "ptrace refused" 1 "${X[@]}" --tier 2 --workdir "$T/wd" -- python3 -c '
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
sys.exit(0 if libc.ptrace(0, 0, 0, 0) == 0 else ctypes.get_errno() == 1)'
mkdir -p "$T/wd/mnt"
check_exit "mount refused" 1 "${X[@]}" --tier 4 --workdir "$T/wd" -- python3 -c '
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
rc = libc.mount(b"none", b"mnt", b"tmpfs", 0, None)
sys.exit(0 if rc == 0 else ctypes.get_errno() == 1)'

# Network: a real listener; T1 (no ports) cannot connect; a tier listing the port can,
# and still not to another port.
PORT=$(free_port)
OTHER=$(free_port)
python3 -c '
import socket, sys, time
ss = []
for p in sys.argv[1:]:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(p))); s.listen(16); ss.append(s)
time.sleep(60)' "$PORT" "$OTHER" &
PIDS_TO_KILL+=($!)
for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null && break
    sleep 0.1
done
CONNECT='import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2); print("connected")
except OSError as e:
    print("refused:", e); sys.exit(3)'
check_exit "T1 cannot connect" 3 "${X[@]}" --tier 1 --workdir "$T/wd" -- python3 -c "$CONNECT" "$PORT"
check_contains "T1: no IP sockets" "$OUT" "Operation not permitted"
cat >"$T/net.yaml" <<EOF
version: 1
rules: []
sandbox:
  3:
    workdir_write: true
    read_paths: [/usr, /lib, /lib64, /bin, /etc, /proc]
    connect_ports: [$PORT]
EOF
check_exit "T3 connects to its listed port" 0 "${X[@]}" --tier 3 --policy "$T/net.yaml" \
    --workdir "$T/wd" -- python3 -c "$CONNECT" "$PORT"
check_contains "T3 connected" "$OUT" "connected"
check_exit "T3 cannot connect to another port" 3 "${X[@]}" --tier 3 --policy "$T/net.yaml" \
    --workdir "$T/wd" -- python3 -c "$CONNECT" "$OTHER"
check_contains "T3 other port: Landlock says EACCES" "$OUT" "Permission denied"
check_exit "T3 show: TCP only" 0 "$AG" --dir "$D" sandbox show --tier 3 --policy "$T/net.yaml"
check_contains "T3 show says TCP only" "$OUT" "TCP only: no UDP, raw or other IP sockets"
# errno of one raw system call: syscall NR ARGS... (64-bit values as given).
SYSCALL='import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
r = libc.syscall(*[ctypes.c_long(int(a, 0)) for a in sys.argv[1:]])
print("ok" if r >= 0 else "errno %d" % ctypes.get_errno())'
check_exit "T3 with ports: socket(AF_INET, SOCK_DGRAM)" 0 "${X[@]}" --tier 3 --policy "$T/net.yaml" \
    --workdir "$T/wd" -- python3 -c "$SYSCALL" 41 2 2 0
check_eq "T3 with ports: UDP refused (EPERM)" "$OUT" "errno 1"
check_exit "T3 with ports: MPTCP" 0 "${X[@]}" --tier 3 --policy "$T/net.yaml" \
    --workdir "$T/wd" -- python3 -c "$SYSCALL" 41 2 1 262
check_eq "T3 with ports: MPTCP refused (EPERM)" "$OUT" "errno 1"
check_exit "T1: socket(0x100000002, SOCK_DGRAM)" 0 "${X[@]}" --tier 1 --workdir "$T/wd" -- \
    python3 -c "$SYSCALL" 41 0x100000002 2 0
check_eq "T1: a high half does not hide AF_INET" "$OUT" "errno 1"
check_exit "T1: socket(AF_VSOCK)" 0 "${X[@]}" --tier 1 --workdir "$T/wd" -- \
    python3 -c "$SYSCALL" 41 40 1 0
check_eq "T1: vsock refused" "$OUT" "errno 1"
check_exit "T2: keyctl" 0 "${X[@]}" --tier 2 --workdir "$T/wd" -- python3 -c "$SYSCALL" 250 0 -3 0
check_eq "T2: the keyring refused" "$OUT" "errno 1"

# rlimits: a file over the tier's file_size fails.
cat >"$T/small.yaml" <<EOF
version: 1
rules: []
sandbox:
  1:
    workdir_write: true
    read_paths: [/usr, /lib, /lib64, /bin, /etc]
    file_size: 64K
EOF
check_exit "file within the limit" 0 "${X[@]}" --tier 1 --policy "$T/small.yaml" --workdir "$T/wd" -- \
    sh -c 'head -c 65536 /dev/zero > fits'
check_exit "file over the limit is cut (SIGXFSZ)" 153 "${X[@]}" --tier 1 --policy "$T/small.yaml" \
    --workdir "$T/wd" -- sh -c 'exec head -c 200000 /dev/zero > big'
check_eq "big file stopped at the limit" "$(stat -c %s "$T/wd/big")" 65536

# Setup failures never run the command.
check_exit "missing command" 127 "${X[@]}" --tier 1 --workdir "$T/wd" -- /nonexistent/cmd
check_contains "missing command named" "$ERR" "/nonexistent/cmd"
check_exit "missing workdir" 126 "${X[@]}" --tier 1 --workdir "$T/nope" -- true
check_contains "missing workdir named" "$ERR" "$T/nope"

finish
