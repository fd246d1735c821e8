# fish completion for aria-cachefs(1). The options come from
# `aria-cachefs --help`, printed from the daemon's one table of settings
# (core/include/acfs/settings.h): a new setting completes without a change
# here. Options that take a value (--max-size SIZE) ask for one.
for line in (aria-cachefs --help 2>/dev/null | string match -r '^    --[a-z-]+(?: [A-Z]+)?')
    set -l parts (string split ' ' -- (string trim -- $line))
    set -l opt (string sub -s 3 -- $parts[1])
    if test (count $parts) -gt 1
        complete -c aria-cachefs -l $opt -r
    else
        complete -c aria-cachefs -l $opt
    end
end
complete -c aria-cachefs -l validate -x -a 'none magic parse verify'
complete -c aria-cachefs -l hit-mode -x -a 'open kernel'
complete -c aria-cachefs -l verify-reads -x -a 'first always never'
complete -c aria-cachefs -l remote-mode -x -a 'read-write read-only write-only'
complete -c aria-cachefs -l store -x -a '(__fish_complete_directories)'
complete -c aria-cachefs -s f -d 'stay in the foreground'
complete -c aria-cachefs -s d -d 'FUSE debug output'
complete -c aria-cachefs -s o -x -d 'FUSE mount options'
complete -c aria-cachefs -s h -l help -d 'print the options'
complete -c aria-cachefs -s V -l version -d 'print the version'
