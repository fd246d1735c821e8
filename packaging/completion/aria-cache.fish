# fish completion for aria-cache(1).
set -l commands stats zero-stats gc ls inspect pin unpin import publish prefetch clear verify sync repair config metrics top
complete -c aria-cache -f
complete -c aria-cache -n "not __fish_seen_subcommand_from $commands" -a "$commands"
complete -c aria-cache -n "not __fish_seen_subcommand_from $commands" -s C -x -a '(__fish_complete_directories)' -d 'a mountpoint'
complete -c aria-cache -n "not __fish_seen_subcommand_from $commands" -l store -x -a '(__fish_complete_directories)' -d 'a store'
complete -c aria-cache -n "not __fish_seen_subcommand_from $commands" -l version
complete -c aria-cache -l help
complete -c aria-cache -n "__fish_seen_subcommand_from stats zero-stats config gc repair ls inspect verify sync clear pin unpin import publish prefetch" -l json
complete -c aria-cache -n "__fish_seen_subcommand_from gc" -l max-size -x
complete -c aria-cache -n "__fish_seen_subcommand_from gc" -l older-than -x
complete -c aria-cache -n "__fish_seen_subcommand_from gc" -l dry-run
complete -c aria-cache -n "__fish_seen_subcommand_from gc" -l verbose
complete -c aria-cache -n "__fish_seen_subcommand_from gc repair clear" -l yes
complete -c aria-cache -n "__fish_seen_subcommand_from ls" -l sort -x -a 'atime size mtime'
complete -c aria-cache -n "__fish_seen_subcommand_from ls" -l reverse
complete -c aria-cache -n "__fish_seen_subcommand_from ls" -l limit -x
complete -c aria-cache -n "__fish_seen_subcommand_from inspect" -l disassemble
complete -c aria-cache -n "__fish_seen_subcommand_from verify" -l repair
complete -c aria-cache -n "__fish_seen_subcommand_from verify" -l validate -x -a 'none magic parse verify'
complete -c aria-cache -n "__fish_seen_subcommand_from verify" -l target -x
complete -c aria-cache -n "__fish_seen_subcommand_from sync" -l timeout -x
complete -c aria-cache -n "__fish_seen_subcommand_from pin unpin inspect" -F
complete -c aria-cache -n "__fish_seen_subcommand_from import" -x -a '(__fish_complete_directories)'
complete -c aria-cache -n "__fish_seen_subcommand_from prefetch" -l jobs -x
complete -c aria-cache -n "__fish_seen_subcommand_from prefetch" -l max-keys -x
complete -c aria-cache -n "__fish_seen_subcommand_from top" -l interval -x
complete -c aria-cache -n "__fish_seen_subcommand_from top" -l count -x
complete -c aria-cache -n "__fish_seen_subcommand_from top" -l json
