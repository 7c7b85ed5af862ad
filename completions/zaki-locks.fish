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

complete -c zaki-locks -n "__fish_zaki_locks_needs_command" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c zaki-locks -n "__fish_zaki_locks_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zaki-locks -n "__fish_zaki_locks_needs_command" -s V -l version -d 'Print version'
complete -c zaki-locks -n "__fish_zaki_locks_needs_command" -f -a "scan" -d 'List every session lock with its owner, age and whether it is stale'
complete -c zaki-locks -n "__fish_zaki_locks_needs_command" -f -a "clean" -d 'Remove stale session locks (safe to run from cron every 5 minutes)'
complete -c zaki-locks -n "__fish_zaki_locks_needs_command" -f -a "watch" -d 'Clean each container\'s stale locks as soon as it starts again (replaces the cron job)'
complete -c zaki-locks -n "__fish_zaki_locks_needs_command" -f -a "probe" -d 'Send a test message to a user\'s gateway like the router does, and say why it is stuck'
complete -c zaki-locks -n "__fish_zaki_locks_needs_command" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c zaki-locks -n "__fish_zaki_locks_needs_command" -f -a "man" -d 'Print a man page (roff): `zaki-locks man clean | man -l -`'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l root -d 'A host state dir, such as /root/.openclaw (repeatable)' -r -f -a "(__fish_complete_directories)"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l users-dir -d 'A dir of per-user state dirs (repeatable)' -r -f -a "(__fish_complete_directories)"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l user-dir-prefix -d 'What a per-user dir\'s name has before the id' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l docker-host -d 'A Docker engine to ask (repeatable)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l prefix -d 'Look inside running containers named so' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l container -d 'Exactly this container (repeatable)' -r -f -a "(docker ps -a --format '{{.Names}}' 2>/dev/null)"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l container-state-dir -d 'The state dir inside the containers (repeatable)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -s j -l jobs -d 'Containers to look inside at once' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l container-timeout -d 'How long a container may take to answer' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l place-timeout -d 'How long one place\'s databases may take to read' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l older-than -d 'Age (by createdAt) past which a lock nobody holds open is too-old (e.g. 30m, 1h, 90s)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l format -d 'Output format' -r -f -a "table\t'A table for people (aligned, cut to the terminal\'s width or COLUMNS)'
tsv\t'Tab-separated lines, never cut (for cut, awk and spreadsheets)'
json\t'The JSON report (stable schema: its fields are listed in man zaki-locks)'
prometheus\t'Prometheus text format (node_exporter textfile collector)'"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l held-over -d 'List only live locks held longer than this' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l metrics-file -d 'Also write the metrics to this file' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l no-host -d 'Look only inside containers, not at the host\'s dirs'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l no-containers -d 'Look only at the host\'s dirs, not inside containers'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l via-exec -d 'Always look inside containers by exec'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l allow-short-threshold -d 'Accept an --older-than below 5m (for tests, and fleets known to be idle)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l stale-only -d 'List only stale locks'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l fail-on-stale -d 'Exit 3 when a stale lock is present'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l fail-on-held -d 'With --held-over: exit 3 when one is present'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -l full-paths -d 'Show full paths in the table'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand scan" -s V -l version -d 'Print version'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l root -d 'A host state dir, such as /root/.openclaw (repeatable)' -r -f -a "(__fish_complete_directories)"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l users-dir -d 'A dir of per-user state dirs (repeatable)' -r -f -a "(__fish_complete_directories)"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l user-dir-prefix -d 'What a per-user dir\'s name has before the id' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l docker-host -d 'A Docker engine to ask (repeatable)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l prefix -d 'Look inside running containers named so' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l container -d 'Exactly this container (repeatable)' -r -f -a "(docker ps -a --format '{{.Names}}' 2>/dev/null)"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l container-state-dir -d 'The state dir inside the containers (repeatable)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -s j -l jobs -d 'Containers to look inside at once' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l container-timeout -d 'How long a container may take to answer' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l place-timeout -d 'How long one place\'s databases may take to read' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l older-than -d 'Age (by createdAt) past which a lock nobody holds open is too-old (e.g. 30m, 1h, 90s)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l format -d 'Output format' -r -f -a "text\t'One line per action, for people and logs'
json\t'The JSON report (stable schema: its fields are listed in man zaki-locks)'"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l run-lock -d 'The run lock that keeps cleans apart' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l wait -d 'How long to wait for the run lock' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l hung-after -d 'A run lock holder busy for longer than this looks hung' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l log-format -d 'The shape of the log lines' -r -f -a "auto\t'human on a terminal, kv otherwise'
human\t'Sentences for people'
kv\t'ts=… action=… key=value pairs, one line per action'
json\t'One JSON object per line'"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l metrics-file -d 'Also write the metrics to this file' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l restart-min-uptime -d 'With --restart-orphaned: the uptime a restart needs' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l restart-max -d 'With --restart-orphaned: most restarts per run' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l restart-budget -d 'With --restart-orphaned: most time spent restarting per run' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l no-host -d 'Look only inside containers, not at the host\'s dirs'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l no-containers -d 'Look only at the host\'s dirs, not inside containers'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l via-exec -d 'Always look inside containers by exec'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l allow-short-threshold -d 'Accept an --older-than below 5m (for tests, and fleets known to be idle)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -s n -l dry-run -d 'Show what would be removed, remove nothing'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -s q -l quiet -d 'Print only removals and what needs a human'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -l restart-orphaned -d 'Restart gateways holding an orphan turn claim'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand clean" -s V -l version -d 'Print version'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l root -d 'A host state dir, such as /root/.openclaw (repeatable)' -r -f -a "(__fish_complete_directories)"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l users-dir -d 'A dir of per-user state dirs (repeatable)' -r -f -a "(__fish_complete_directories)"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l user-dir-prefix -d 'What a per-user dir\'s name has before the id' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l docker-host -d 'A Docker engine to ask (repeatable)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l prefix -d 'Look inside running containers named so' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l container -d 'Exactly this container (repeatable)' -r -f -a "(docker ps -a --format '{{.Names}}' 2>/dev/null)"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l container-state-dir -d 'The state dir inside the containers (repeatable)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -s j -l jobs -d 'Containers to look inside at once' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l container-timeout -d 'How long a container may take to answer' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l place-timeout -d 'How long one place\'s databases may take to read' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l older-than -d 'Age (by createdAt) past which a lock nobody holds open is too-old (e.g. 30m, 1h, 90s)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l interval -d 'Run a full clean this often (and at start-up, and after reconnecting to Docker)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l settle -d 'Wait this long after a start before cleaning' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l log-format -d 'The shape of the log lines' -r -f -a "auto\t'human on a terminal, kv otherwise'
human\t'Sentences for people'
kv\t'ts=… action=… key=value pairs, one line per action'
json\t'One JSON object per line'"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l run-lock -d 'The run lock, held while watch runs' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l wait -d 'How long to wait for a clean under way' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l restart-min-uptime -d 'With --restart-orphaned: the uptime a restart needs' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l restart-max -d 'With --restart-orphaned: most restarts per run' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l restart-budget -d 'With --restart-orphaned: most time spent restarting per run' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l metrics-file -d 'Write the metrics to this file after every pass' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l no-host -d 'Look only inside containers, not at the host\'s dirs'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l no-containers -d 'Look only at the host\'s dirs, not inside containers'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l via-exec -d 'Always look inside containers by exec'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l allow-short-threshold -d 'Accept an --older-than below 5m (for tests, and fleets known to be idle)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -l restart-orphaned -d 'Restart gateways holding an orphan turn claim'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand watch" -s V -l version -d 'Print version'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l users-file -d 'The router table' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l gateway-host -d 'Where the gateways\' ports are published' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l attempts -d 'Attempts, as the router makes them' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l timeout -d 'Timeout of each attempt' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l backoff -d 'Wait before retry n: n times this' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l session-user -d 'The `user` the probe talks as' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l message -d 'The message sent' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l agent -d 'The agent that serves the OpenAI endpoint' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l inject-lock -d 'Hold the session lock this long, then send' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l format -d 'Output format' -r -f -a "text\t'A timeline, each step printed as it happens'
json\t'One JSON document at the end (its fields are listed in man zaki-locks-probe)'
prometheus\t'Prometheus text format (node_exporter textfile collector)'"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l metrics-file -d 'Also write the metrics to this file' -r -F
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l prefix -d 'The container\'s name before the user id' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l docker-host -d 'The Docker engine to ask' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l container-state-dir -d 'The state dir inside the container' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l container-timeout -d 'How long Docker and the container may take' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l older-than -d 'Age (by createdAt) past which a lock nobody holds open is too-old (e.g. 30m, 1h, 90s)' -r
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l as-user -d 'Talk as the user itself (writes to its transcript)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l clean-on-failure -d 'Remove a stale lock that blocks at the end'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l metrics-user-label -d 'Label the probe\'s metrics with user="<id>"'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -l allow-short-threshold -d 'Accept an --older-than below 5m (for tests, and fleets known to be idle)'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand probe" -s V -l version -d 'Print version'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand completions" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand completions" -s V -l version -d 'Print version'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand man" -l color -d 'When to colour the output' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zaki-locks -n "__fish_zaki_locks_using_subcommand man" -s V -l version -d 'Print version'
