# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_zaki_locks_global_optspecs
    string join \n color= h/help V/version
end

function __fish_zaki_locks_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_zaki_locks_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_zaki_locks_using_subcommand
    set -l cmd (__fish_zaki_locks_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c zaki-locks -n "__fish_zaki_locks_needs_command" -l color -d 'When to colour the output: auto colours on a terminal unless NO_COLOR is set' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c zaki-locks -n "__fish_zaki_locks_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zaki-locks -n "__fish_zaki_locks_needs_command" -s V -l version -d 'Print version'
complete -c zaki-locks -n "__fish_zaki_locks_needs_command" -f -a "scan" -d 'List every session lock with its owner, age and whether it is stale'
complete -c zaki-locks -n "__fish_zaki_locks_needs_command" -f -a "clean" -d 'Remove stale session locks (safe to run from cron every 5 minutes)'
complete -c zaki-locks -n "__fish_zaki_locks_needs_command" -f -a "watch" -d 'Clean a container\'s stale locks as soon as it starts again (follows Docker\'s events), plus a full clean at start-up and every --interval: a replacement for the cron job'
complete -c zaki-locks -n "__fish_zaki_locks_needs_command" -f -a "probe" -d 'Send a test message to a user\'s gateway like the router does, and say why it is stuck'
complete -c zaki-locks -n "__fish_zaki_locks_needs_command" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c zaki-locks -n "__fish_zaki_locks_needs_command" -f -a "man" -d 'Print a man page (roff): `zaki-locks man clean | man -l -`'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l root -d 'An OpenClaw state dir whose gateway runs on this host (repeatable). Giving --root or --users-dir replaces the defaults: /root/.openclaw, $OPENCLAW_STATE_DIR and /var/zaki-platform/users' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l users-dir -d 'A directory of per-user state dirs (user-<id>/.openclaw), each bind-mounted into that user\'s container (repeatable). Their owners run in the container\'s PID namespace' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l docker-host -d 'A Docker engine to ask (repeatable): unix:///var/run/docker.sock, tcp://host:2376 (TLS when DOCKER_TLS_VERIFY is set) [default: $DOCKER_HOST, else the local socket]' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l prefix -d 'Look inside running containers whose name starts with this' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l container -d 'Look inside exactly this container (repeatable; replaces --prefix)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l container-state-dir -d 'The OpenClaw state dir inside the containers (repeatable) [default: found from each container\'s mounts and environment, /home/node/.openclaw, /root/.openclaw]' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -s j -l jobs -d 'How many containers to look inside at once' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l container-timeout -d 'How long one container may take to answer (each exec, and connecting to Docker)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l place-timeout -d 'How long one place\'s SQLite databases (OpenClaw 2026.8+) may take to read; past it the place is an error ("timed out reading …") and the others go on' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l older-than -d 'Age (by createdAt) past which a lock nobody holds open is too-old (e.g. 30m, 1h, 90s)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l format -d 'Output format' -r -f -a "table\t'A table for people'
json\t'The JSON report (stable schema: its fields are listed in man zaki-locks)'
prometheus\t'Prometheus text format (node_exporter textfile collector)'"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l held-over -d 'List only live locks held longer than this (a live lock is normally released within seconds; OpenClaw\'s watchdog releases one after 5 min), e.g. 1m. Without a value: each lock\'s own max hold (its payload\'s maxHoldMs, OpenClaw 2026.5.28+; else 5 min)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l metrics-file -d 'Also write the metrics (Prometheus text format) to this file, atomically, for node_exporter\'s textfile collector' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l color -d 'When to colour the output: auto colours on a terminal unless NO_COLOR is set' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l no-host -d 'Do not look at the host\'s filesystem (only containers)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l no-containers -d 'Do not look inside containers (only the host\'s filesystem)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l via-exec -d 'Always look inside containers with `docker exec`, even where their files can be read from this host (through a bind mount or the container\'s root)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l allow-short-threshold -d 'Accept an --older-than below 5m (for tests, and fleets known to be idle)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l stale-only -d 'List only stale locks'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l fail-on-stale -d 'Exit with status 3 when a stale lock is present (for monitoring)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l fail-on-held -d 'With --held-over: exit with status 3 when such a lock is present'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l full-paths -d 'Show full paths in the table (it shows each lock\'s path relative to its state dir; the JSON report always has the full path)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -s V -l version -d 'Print version'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l root -d 'An OpenClaw state dir whose gateway runs on this host (repeatable). Giving --root or --users-dir replaces the defaults: /root/.openclaw, $OPENCLAW_STATE_DIR and /var/zaki-platform/users' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l users-dir -d 'A directory of per-user state dirs (user-<id>/.openclaw), each bind-mounted into that user\'s container (repeatable). Their owners run in the container\'s PID namespace' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l docker-host -d 'A Docker engine to ask (repeatable): unix:///var/run/docker.sock, tcp://host:2376 (TLS when DOCKER_TLS_VERIFY is set) [default: $DOCKER_HOST, else the local socket]' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l prefix -d 'Look inside running containers whose name starts with this' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l container -d 'Look inside exactly this container (repeatable; replaces --prefix)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l container-state-dir -d 'The OpenClaw state dir inside the containers (repeatable) [default: found from each container\'s mounts and environment, /home/node/.openclaw, /root/.openclaw]' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -s j -l jobs -d 'How many containers to look inside at once' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l container-timeout -d 'How long one container may take to answer (each exec, and connecting to Docker)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l place-timeout -d 'How long one place\'s SQLite databases (OpenClaw 2026.8+) may take to read; past it the place is an error ("timed out reading …") and the others go on' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l older-than -d 'Age (by createdAt) past which a lock nobody holds open is too-old (e.g. 30m, 1h, 90s)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l format -d 'Output format' -r -f -a "text\t'One line per action, for people and logs'
json\t'The JSON report (stable schema: its fields are listed in man zaki-locks)'"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l run-lock -d 'The run lock that keeps two cleans from overlapping [default: /run/zaki-locks.lock as root, else $XDG_RUNTIME_DIR/zaki-locks.lock]' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l wait -d 'How long to wait for a previous clean (or a watch) to finish before stepping aside (exit 0, metrics still written)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l hung-after -d 'A run lock holder busy with one pass for longer than this looks hung: stepping aside from it exits 1 and writes zaki_locks_last_run_success 0 with its pid and busy time [default: 3 × the 5-minute cron interval]' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l log-format -d 'The shape of the text lines: human, or one key=value line (or JSON object) per action with a timestamp, for journald and log shippers [auto: human on a terminal, else kv]' -r -f -a "auto\t'human on a terminal, kv otherwise'
human\t'Sentences for people'
kv\t'ts=… action=… key=value pairs, one line per action'
json\t'One JSON object per line'"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l metrics-file -d 'Also write the metrics (Prometheus text format) to this file, atomically, for node_exporter\'s textfile collector' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l restart-min-uptime -d 'With --restart-orphaned: leave a container up for less than this alone (its gateway clears claims while it starts; restarting it again would only delay that)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l color -d 'When to colour the output: auto colours on a terminal unless NO_COLOR is set' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l no-host -d 'Do not look at the host\'s filesystem (only containers)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l no-containers -d 'Do not look inside containers (only the host\'s filesystem)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l via-exec -d 'Always look inside containers with `docker exec`, even where their files can be read from this host (through a bind mount or the container\'s root)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l allow-short-threshold -d 'Accept an --older-than below 5m (for tests, and fleets known to be idle)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -s n -l dry-run -d 'Show what would be removed, remove nothing'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -s q -l quiet -d 'Print nothing unless a lock was removed or something went wrong (for cron)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l restart-orphaned -d 'OpenClaw 2026.8+: restart each container whose gateway holds an orphan turn claim (the gateway clears claims at start-up), one at a time, after checking again that the claim is still there. The database is never edited. Without it, clean prints the command'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -s V -l version -d 'Print version'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l root -d 'An OpenClaw state dir whose gateway runs on this host (repeatable). Giving --root or --users-dir replaces the defaults: /root/.openclaw, $OPENCLAW_STATE_DIR and /var/zaki-platform/users' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l users-dir -d 'A directory of per-user state dirs (user-<id>/.openclaw), each bind-mounted into that user\'s container (repeatable). Their owners run in the container\'s PID namespace' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l docker-host -d 'A Docker engine to ask (repeatable): unix:///var/run/docker.sock, tcp://host:2376 (TLS when DOCKER_TLS_VERIFY is set) [default: $DOCKER_HOST, else the local socket]' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l prefix -d 'Look inside running containers whose name starts with this' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l container -d 'Look inside exactly this container (repeatable; replaces --prefix)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l container-state-dir -d 'The OpenClaw state dir inside the containers (repeatable) [default: found from each container\'s mounts and environment, /home/node/.openclaw, /root/.openclaw]' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -s j -l jobs -d 'How many containers to look inside at once' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l container-timeout -d 'How long one container may take to answer (each exec, and connecting to Docker)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l place-timeout -d 'How long one place\'s SQLite databases (OpenClaw 2026.8+) may take to read; past it the place is an error ("timed out reading …") and the others go on' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l older-than -d 'Age (by createdAt) past which a lock nobody holds open is too-old (e.g. 30m, 1h, 90s)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l interval -d 'Run a full clean this often (and at start-up, and after reconnecting to Docker)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l settle -d 'After a container starts, wait this long before cleaning it' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l log-format -d 'The shape of the log lines [auto: human on a terminal, else kv]' -r -f -a "auto\t'human on a terminal, kv otherwise'
human\t'Sentences for people'
kv\t'ts=… action=… key=value pairs, one line per action'
json\t'One JSON object per line'"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l run-lock -d 'The run lock, held for as long as watch runs (a cron clean then steps aside)' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l wait -d 'How long to wait for a clean under way to finish before giving up (exit 1)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l restart-min-uptime -d 'With --restart-orphaned: leave a container up for less than this alone (its gateway clears claims while it starts; restarting it again would only delay that)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l metrics-file -d 'Write the metrics (Prometheus text format, command="watch") to this file after every pass, atomically; it replaces the cron clean\'s file' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l color -d 'When to colour the output: auto colours on a terminal unless NO_COLOR is set' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l no-host -d 'Do not look at the host\'s filesystem (only containers)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l no-containers -d 'Do not look inside containers (only the host\'s filesystem)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l via-exec -d 'Always look inside containers with `docker exec`, even where their files can be read from this host (through a bind mount or the container\'s root)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l allow-short-threshold -d 'Accept an --older-than below 5m (for tests, and fleets known to be idle)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l restart-orphaned -d 'OpenClaw 2026.8+: after each pass, restart each container whose gateway holds an orphan turn claim (as `clean --restart-orphaned`)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -s V -l version -d 'Print version'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l users-file -d 'The router table' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l gateway-host -d 'Where the gateways\' ports are published' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l attempts -d 'Attempts, as the router makes them' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l timeout -d 'Timeout of each attempt' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l backoff -d 'Wait before retry n is n times this (2s: 2 s, then 4 s), as the router does' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l session-user -d 'The `user` the probe talks as, so it never writes into the user\'s conversation' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l message -d 'The message sent' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l agent -d 'The OpenClaw agent that serves the OpenAI-compatible endpoint' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l inject-lock -d 'Check the retry path: lock the probe\'s session as a live process of the container (its pid 1) would, release it after DURATION, and send. With 12s the first attempt must fail as session-busy and a retry succeed. The lock is removed on every path, Ctrl-C included' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l format -d 'Output format' -r -f -a "text\t'A timeline, each step printed as it happens'
json\t'One JSON document at the end (its fields are listed in man zaki-locks-probe)'
prometheus\t'Prometheus text format (node_exporter textfile collector)'"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l metrics-file -d 'Also write the probe\'s metrics (Prometheus text format) to this file, atomically' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l prefix -d 'The user\'s container is this prefix followed by the user id' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l docker-host -d 'The Docker engine to ask [default: $DOCKER_HOST, else the local socket]' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l container-state-dir -d 'The OpenClaw state dir inside the container [default: found from its mounts]' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l container-timeout -d 'How long Docker and the container may take to answer' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l older-than -d 'Age (by createdAt) past which a lock nobody holds open is too-old (e.g. 30m, 1h, 90s)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l color -d 'When to colour the output: auto colours on a terminal unless NO_COLOR is set' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l as-user -d 'Talk as the user itself, to see exactly what the user sees. This APPENDS the probe\'s message and the reply to the user\'s real transcript'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l clean-on-failure -d 'When a stale lock blocks the session at the end, remove it (the router\'s "clean stale locks on final failure")'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l metrics-user-label -d 'Label the probe\'s metrics with user="<id>". Off by default: one series set per user grows without bound and puts Telegram ids in Prometheus; give each probed user its own --metrics-file instead, or turn this on for a handful of canary users'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l allow-short-threshold -d 'Accept an --older-than below 5m (for tests, and fleets known to be idle)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -s V -l version -d 'Print version'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand completions" -l color -d 'When to colour the output: auto colours on a terminal unless NO_COLOR is set' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand completions" -s V -l version -d 'Print version'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand man" -l color -d 'When to colour the output: auto colours on a terminal unless NO_COLOR is set' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand man" -s V -l version -d 'Print version'
