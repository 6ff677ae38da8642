# bash completion for corral(1)
_corral()
{
        local cur prev words cword
        _init_completion || return

        local verbs="install uninstall list update outdated info enable disable start stop
                restart status tools call logs reload daemon run serve cache"
        local i verb=
        for ((i = 1; i < cword; i++)); do
                case ${words[i]} in
                --root | --store) ((i++)) ;;
                -*) ;;
                *) verb=${words[i]}; break ;;
                esac
        done

        if [[ $prev == --root ]]; then
                _filedir -d
                return
        fi
        if [[ $prev == --store ]]; then
                COMPREPLY=($(compgen -W 'system user' -- "$cur"))
                return
        fi
        if [[ -z $verb ]]; then
                if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W '--root --store --json --yes --help --version' -- "$cur"))
                else
                        COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
                fi
                return
        fi

        local opts=
        case $verb in
        install) opts='--name --force --env --sandbox --yes --json --registry --offline --frozen --mount --run-as-owner --dry-run --access' ;;
        uninstall) opts='--purge' ;;
        list | status) opts='--json' ;;
        update) opts='--json --dry-run --registry' ;;
        outdated) opts='--json --registry' ;;
        info | tools) opts='--json' ;;
        call) opts='--json --timeout' ;;
        logs) opts='-f -n' ;;
        serve) opts='--stdio' ;;
        cache) opts='--json --all' ;;
        esac
        if [[ $verb == install && $prev == --sandbox ]]; then
                COMPREPLY=($(compgen -W 'default strict log none' -- "$cur"))
                return
        fi
        if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
                return
        fi
        case $verb in
        install) _filedir -d ;;
        cache) COMPREPLY=($(compgen -W 'info clean' -- "$cur")) ;;
        uninstall | update | info | enable | disable | start | stop | restart | logs | run | tools)
                local root=() names
                for ((i = 1; i < cword; i++)); do
                        [[ ${words[i]} == --root ]] && root=(--root "${words[i + 1]}")
                done
                names=$(corral "${root[@]}" list --json 2>/dev/null |
                        grep -o '"name": *"[a-z0-9-]*"' | sed 's/.*"\([a-z0-9-]*\)"$/\1/')
                COMPREPLY=($(compgen -W "$names" -- "$cur"))
                ;;
        esac
} &&
        complete -F _corral corral
