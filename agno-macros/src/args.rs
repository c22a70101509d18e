//! Attribute arguments: the `key = value` lists of `#[hook(...)]`, `#[task(...)]` and
//! `#[agent_task(...)]`.
//!
//! The list is split at its top-level commas (commas inside `<...>` belong to a type or path)
//! and each piece is checked on its own, so every mistake is reported, each on its own token.
//! What is common (names, `=`, duplicates, `crate = path`, the comma after a value) is checked
//! here; each macro's [`Spec`] reads its own values.

use proc_macro2::{Delimiter, Ident, Spacing, TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream, Parser};
use syn::{Lit, Path};

use crate::errors::Errors;
use crate::suggest::did_you_mean;

/// What one macro accepts.
pub(crate) trait Spec: Default {
    /// The argument names, in the order messages list them.
    const KEYS: &'static [&'static str];
    /// An argument to show when a list starts with a comma (`run_in_background = true`).
    const EXAMPLE: &'static str;

    /// A whole argument to show for `key` (`ttl = 600`).
    fn example(key: &str) -> &'static str;

    /// The hint after "expected an argument name, found `x`; ".
    fn not_a_name(found: &str) -> String;

    /// A hint for an unknown argument that did-you-mean does not find (`system_prompt` →
    /// `instructions`).
    fn unknown_hint(_name: &str) -> Option<String> {
        None
    }

    /// Where `crate = path` goes.
    fn krate(&mut self) -> &mut Option<Path>;

    /// Reads the value of `key` (not `crate`), recording errors; returns the tokens after the
    /// value, which must be empty.
    fn value<'v>(
        &mut self,
        key: &Ident,
        name: &'static str,
        value: &'v [TokenTree],
        errors: &mut Errors,
    ) -> &'v [TokenTree];

    /// Checks that concern several arguments, once all are read.
    fn finish(&mut self, _errors: &mut Errors) {}
}

/// Parses the tokens inside `#[name(...)]`, recording every error in `errors`.
pub(crate) fn parse<S: Spec>(tokens: TokenStream, errors: &mut Errors) -> S {
    let mut args = S::default();
    let mut seen: Vec<&str> = Vec::new();
    let mut piece: Vec<TokenTree> = Vec::new();
    let mut angles = 0usize;
    let mut tokens = tokens.into_iter();
    loop {
        let next = tokens.next();
        match next {
            Some(TokenTree::Punct(p)) if p.as_char() == ',' && angles == 0 => {
                if piece.is_empty() {
                    errors.push(syn::Error::new(
                        p.span(),
                        format!("unexpected `,`: expected an argument such as `{}`", S::EXAMPLE),
                    ));
                } else {
                    argument(&std::mem::take(&mut piece), &mut args, &mut seen, errors);
                }
            }
            Some(token) => {
                if let TokenTree::Punct(p) = &token {
                    let after_dash = matches!(piece.last(), Some(TokenTree::Punct(d)) if d.as_char() == '-' && d.spacing() == Spacing::Joint);
                    match p.as_char() {
                        '<' => angles += 1,
                        '>' if !after_dash => angles = angles.saturating_sub(1),
                        _ => {}
                    }
                }
                piece.push(token);
            }
            None => {
                if !piece.is_empty() {
                    argument(&piece, &mut args, &mut seen, errors);
                }
                break;
            }
        }
    }
    args.finish(errors);
    args
}

/// "`a`, `b`, `c`" for messages.
pub(crate) fn listed(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// Checks one `key = value` piece.
fn argument<S: Spec>(piece: &[TokenTree], args: &mut S, seen: &mut Vec<&'static str>, errors: &mut Errors) {
    let key = match &piece[0] {
        TokenTree::Ident(ident) if ident != "true" && ident != "false" => ident.clone(),
        other => {
            let shown = shown(other);
            let hint = S::not_a_name(&shown);
            errors.push(syn::Error::new(other.span(), format!("expected an argument name, found `{shown}`; {hint}")));
            return;
        }
    };
    let name = key.to_string();
    let Some(known) = S::KEYS.iter().copied().find(|k| *k == name) else {
        let mut message = format!("unknown argument `{name}`; valid: {}", listed(S::KEYS));
        if let Some(close) = did_you_mean(&name, S::KEYS.iter().copied()) {
            message = format!("{message}; did you mean `{close}`?");
        } else if let Some(hint) = S::unknown_hint(&name) {
            message = format!("{message}; {hint}");
        }
        errors.push(syn::Error::new(key.span(), message));
        return;
    };
    if seen.contains(&known) {
        errors.push(syn::Error::new(key.span(), format!("`{known}` given twice")));
    }
    seen.push(known);
    let example = S::example(known);
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
    if value.is_empty() {
        errors.push(syn::Error::new(piece[1].span(), format!("`{known}` needs a value after `=`: write `{example}`")));
        return;
    }
    let rest = if known == "crate" {
        match crate_path(value) {
            Ok((path, rest)) => {
                *args.krate() = Some(path);
                rest
            }
            Err(err) => {
                errors.push(err);
                return;
            }
        }
    } else {
        args.value(&key, known, value, errors)
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

/// Parses a `T` at the start of `value`; returns it and the tokens after it.
pub(crate) fn parse_prefix<T: Parse>(value: &[TokenTree]) -> syn::Result<(T, &[TokenTree])> {
    parse_prefix_with(value, T::parse)
}

/// Like [`parse_prefix`], with a parser function.
pub(crate) fn parse_prefix_with<T>(
    value: &[TokenTree],
    parser: fn(ParseStream) -> syn::Result<T>,
) -> syn::Result<(T, &[TokenTree])> {
    let tokens: TokenStream = value.iter().cloned().collect();
    let (parsed, rest) = (|input: ParseStream| {
        let parsed = parser(input)?;
        let rest: TokenStream = input.parse()?;
        Ok((parsed, rest.into_iter().count()))
    })
    .parse2(tokens)?;
    Ok((parsed, &value[value.len() - rest..]))
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
    parse_prefix_with(value, Path::parse_mod_style).map_err(|err| syn::Error::new(err.span(), hint))
}

/// A token as it appears in messages.
pub(crate) fn shown(token: &TokenTree) -> String {
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

/// The arguments of `#[hook(...)]`; a wrong argument leaves its default and records an error.
#[derive(Default)]
pub(crate) struct HookArgs {
    /// `run_in_background = true`.
    pub(crate) run_in_background: bool,
    /// `crate = path` (default `::agno`).
    pub(crate) krate: Option<Path>,
}

impl Spec for HookArgs {
    const KEYS: &'static [&'static str] = &["run_in_background", "crate"];
    const EXAMPLE: &'static str = "run_in_background = true";

    fn example(key: &str) -> &'static str {
        if key == "crate" { "crate = agno_core" } else { "run_in_background = true" }
    }

    fn not_a_name(found: &str) -> String {
        if matches!(found, "true" | "false") {
            format!("write `run_in_background = {found}`")
        } else {
            "valid: `run_in_background = true|false`, `crate = path`".to_owned()
        }
    }

    fn krate(&mut self) -> &mut Option<Path> {
        &mut self.krate
    }

    fn value<'v>(
        &mut self,
        _key: &Ident,
        _name: &'static str,
        value: &'v [TokenTree],
        errors: &mut Errors,
    ) -> &'v [TokenTree] {
        let first = &value[0];
        match first {
            TokenTree::Ident(b) if b == "true" || b == "false" => self.run_in_background = b == "true",
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
    }
}
