//! The arguments of `#[hook(...)]`: `run_in_background = true|false` and `crate = path`.
//!
//! The argument list is split at its top-level commas and each piece is checked on its own, so
//! every mistake is reported, each on its own token.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::{Lit, Path};

use crate::errors::Errors;
use crate::suggest::did_you_mean;

/// The argument names `#[hook]` accepts.
const KEYS: [&str; 2] = ["run_in_background", "crate"];

/// The parsed arguments; a wrong argument leaves its default and records an error.
#[derive(Default)]
pub(crate) struct HookArgs {
    /// `run_in_background = true`.
    pub(crate) run_in_background: bool,
    /// `crate = path` (default `::agno`).
    pub(crate) krate: Option<Path>,
}

/// Parses the tokens inside `#[hook(...)]`, recording every error in `errors`.
pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> HookArgs {
    let mut args = HookArgs::default();
    let mut seen: Vec<&str> = Vec::new();
    let mut piece: Vec<TokenTree> = Vec::new();
    let mut tokens = tokens.into_iter();
    loop {
        let next = tokens.next();
        match next {
            Some(TokenTree::Punct(p)) if p.as_char() == ',' => {
                if piece.is_empty() {
                    errors.push(syn::Error::new(
                        p.span(),
                        "unexpected `,`: expected an argument such as `run_in_background = true`",
                    ));
                } else {
                    argument(&std::mem::take(&mut piece), &mut args, &mut seen, errors);
                }
            }
            Some(token) => piece.push(token),
            None => {
                if !piece.is_empty() {
                    argument(&piece, &mut args, &mut seen, errors);
                }
                break;
            }
        }
    }
    args
}

/// Checks one `key = value` piece.
fn argument(piece: &[TokenTree], args: &mut HookArgs, seen: &mut Vec<&'static str>, errors: &mut Errors) {
    let key = match &piece[0] {
        TokenTree::Ident(ident) if ident != "true" && ident != "false" => ident.clone(),
        other => {
            let shown = shown(other);
            let hint = if matches!(shown.as_str(), "true" | "false") {
                format!("write `run_in_background = {shown}`")
            } else {
                "valid: `run_in_background = true|false`, `crate = path`".to_owned()
            };
            errors.push(syn::Error::new(other.span(), format!("expected an argument name, found `{shown}`; {hint}")));
            return;
        }
    };
    let name = key.to_string();
    let Some(known) = KEYS.iter().copied().find(|k| *k == name) else {
        let mut message = format!("unknown argument `{name}`; valid: `run_in_background`, `crate`");
        if let Some(close) = did_you_mean(&name, KEYS) {
            message = format!("{message}; did you mean `{close}`?");
        }
        errors.push(syn::Error::new(key.span(), message));
        return;
    };
    if seen.contains(&known) {
        errors.push(syn::Error::new(key.span(), format!("`{known}` given twice")));
    }
    seen.push(known);
    let example = if known == "crate" { "crate = agno_core" } else { "run_in_background = true" };
    let value = match piece.get(1) {
        None => {
            errors.push(syn::Error::new(key.span(), format!("`{known}` needs a value: write `{example}`")));
            return;
        }
        Some(TokenTree::Punct(p)) if p.as_char() == '=' && p.spacing() == Spacing::Alone => &piece[2..],
        Some(other) => {
            let found = match other {
                // `==`, `=>`, `:=`: the whole operator.
                TokenTree::Punct(_) => {
                    let mut op = String::new();
                    for token in &piece[1..] {
                        let TokenTree::Punct(p) = token else { break };
                        op.push(p.as_char());
                        if p.spacing() == Spacing::Alone {
                            break;
                        }
                    }
                    format!("`{op}`")
                }
                other => format!("`{}`", shown(other)),
            };
            errors.push(syn::Error::new(
                other.span(),
                format!("expected `=` after `{known}`, found {found}; write `{example}`"),
            ));
            return;
        }
    };
    let Some(first) = value.first() else {
        errors.push(syn::Error::new(piece[1].span(), format!("`{known}` needs a value after `=`: write `{example}`")));
        return;
    };
    let rest = if known == "crate" {
        match crate_path(value) {
            Ok((path, rest)) => {
                args.krate = Some(path);
                rest
            }
            Err(err) => {
                errors.push(err);
                return;
            }
        }
    } else {
        match first {
            TokenTree::Ident(b) if b == "true" || b == "false" => args.run_in_background = b == "true",
            TokenTree::Literal(lit) if matches!(Lit::new(lit.clone()), Lit::Str(ref s) if matches!(s.value().as_str(), "true" | "false")) =>
            {
                errors
                    .push(syn::Error::new(first.span(), "expected `true` or `false`, not a string: remove the quotes"));
            }
            other => {
                errors.push(syn::Error::new(
                    other.span(),
                    format!("expected `true` or `false`, found `{}`", shown(other)),
                ));
            }
        }
        &value[1..]
    };
    if let Some(extra) = rest.first() {
        errors.push(syn::Error::new(
            extra.span(),
            format!(
                "expected `,` after the value of `{known}`, found `{}`; separate arguments with commas",
                shown(extra)
            ),
        ));
    }
}

/// Parses the value of `crate = ...`: a path (`agno_core`, `::agno`, `my::reexport`), or the
/// same in a string as `tokio::main` takes it. Returns the tokens after the path.
fn crate_path(value: &[TokenTree]) -> syn::Result<(Path, &[TokenTree])> {
    let hint = "expected a path to the agno crate, such as `agno` or `agno_core`";
    if let [TokenTree::Literal(lit), rest @ ..] = value {
        return match Lit::new(lit.clone()) {
            Lit::Str(s) => {
                let path = s.parse_with(Path::parse_mod_style).map_err(|_| syn::Error::new(s.span(), hint))?;
                Ok((path, rest))
            }
            _ => Err(syn::Error::new(lit.span(), hint)),
        };
    }
    let tokens: TokenStream = value.iter().cloned().collect();
    let consumed = (|input: ParseStream| {
        let path = Path::parse_mod_style(input)?;
        let rest: TokenStream = input.parse()?;
        Ok((path, rest.into_iter().count()))
    })
    .parse2(tokens)
    .map_err(|err| syn::Error::new(err.span(), hint))?;
    let (path, rest) = consumed;
    Ok((path, &value[value.len() - rest..]))
}

/// A token as it appears in messages.
fn shown(token: &TokenTree) -> String {
    match token {
        TokenTree::Group(g) => match g.delimiter() {
            Delimiter::Parenthesis => "(...)".to_owned(),
            Delimiter::Bracket => "[...]".to_owned(),
            Delimiter::Brace => "{...}".to_owned(),
            Delimiter::None => g.stream().to_string(),
        },
        other => other.to_string(),
    }
}
