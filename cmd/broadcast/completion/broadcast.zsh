#compdef broadcast
# zsh completion for broadcast, from urfave/cli v2's autocomplete/zsh_autocomplete.
# Load it with: source <(broadcast completion zsh)
# or save it as _broadcast in a directory on $fpath.

_broadcast() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion)}")
  fi

  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}

if [[ "$funcstack[1]" = "_broadcast" ]]; then
  _broadcast "$@"
else
  compdef _broadcast broadcast
fi
