//! What `#[hook]`, `#[task]` and `#[agent_task]` share about the function they are put on: how
//! it is parsed, what shapes of function are refused, and the helpers the generated code uses.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Attribute, GenericParam, Item, Pat, Safety, Signature, Type, Visibility, token};

use crate::errors::Errors;

/// Which macro is expanding, for the wording of messages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Macro {
    /// `#[hook]`.
    Hook,
    /// `#[task]`.
    Task,
    /// `#[agent_task]`.
    AgentTask,
}

impl Macro {
    /// `#[hook]`.
    pub(crate) fn attr(self) -> &'static str {
        match self {
            Self::Hook => "#[hook]",
            Self::Task => "#[task]",
            Self::AgentTask => "#[agent_task]",
        }
    }

    /// "a hook".
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Self::Hook => "a hook",
            Self::Task => "a task",
            Self::AgentTask => "an agent task",
        }
    }

    /// "hooks".
    fn plural(self) -> &'static str {
        match self {
            Self::Hook => "hooks",
            Self::Task => "tasks",
            Self::AgentTask => "agent tasks",
        }
    }

    /// What calls the function, for the `unsafe fn` message.
    fn caller(self) -> &'static str {
        match self {
            Self::Hook => "the run",
            Self::Task | Self::AgentTask => "the backend",
        }
    }
}

/// A function whose body is kept as unparsed tokens: the macros never look inside the body, so
/// a body with syntax errors still gets its signature checked and is handed to rustc as it is.
pub(crate) struct FnItem {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    pub(crate) body: TokenTree,
}

impl FnItem {
    /// Parses `item` as a function; if it is another item, the error names it.
    pub(crate) fn parse(item: &TokenStream, mac: Macro) -> syn::Result<Self> {
        let parser = |input: ParseStream| {
            let attrs = input.call(Attribute::parse_outer)?;
            let vis = input.parse()?;
            let sig: Signature = input.parse()?;
            if !input.peek(token::Brace) {
                return Err(input.error(format!("expected the function's body `{{ ... }}`: {} needs one", mac.noun())));
            }
            let body = input.parse()?;
            if !input.is_empty() {
                return Err(input.error("unexpected tokens after the function"));
            }
            Ok(Self { attrs, vis, sig, body })
        };
        parser.parse2(item.clone()).map_err(|err| not_a_fn(item, mac).unwrap_or(err))
    }

    /// The attributes sorted for the generated items: `#[cfg]`s (on every item), doc comments
    /// (on the unit struct) and the others (on the function).
    pub(crate) fn split_attrs(&self) -> (Vec<&Attribute>, Vec<&Attribute>, Vec<&Attribute>) {
        let is = |attr: &Attribute, name: &str| attr.path().is_ident(name);
        let cfgs = self.attrs.iter().filter(|a| is(a, "cfg")).collect();
        let docs = self.attrs.iter().filter(|a| is(a, "doc")).collect();
        let others = self.attrs.iter().filter(|a| !is(a, "doc") && !is(a, "cfg")).collect();
        (cfgs, docs, others)
    }
}

/// The item as written, followed by every error: what a macro expands to when anything is wrong,
/// so the rest of the crate still type-checks.
pub(crate) fn with_errors(mut item: TokenStream, errors: Errors) -> TokenStream {
    if let Err(err) = errors.finish() {
        item.extend(err.into_compile_error());
    }
    item
}

/// If `item` is an item other than a function, an error on its first token naming what it is.
fn not_a_fn(item: &TokenStream, mac: Macro) -> Option<syn::Error> {
    let what = match syn::parse2::<Item>(item.clone()).ok()? {
        Item::Fn(_) | Item::Verbatim(_) => return None,
        Item::Const(_) => "a const",
        Item::Enum(_) => "an enum",
        Item::ExternCrate(_) => "an `extern crate`",
        Item::ForeignMod(_) => "an `extern` block",
        Item::Impl(_) => "an impl block",
        Item::Macro(_) => "a macro",
        Item::Mod(_) => "a module",
        Item::Static(_) => "a static",
        Item::Struct(_) => "a struct",
        Item::Trait(_) | Item::TraitAlias(_) => "a trait",
        Item::Type(_) => "a type alias",
        Item::Union(_) => "a union",
        Item::Use(_) => "a `use` declaration",
        _ => "this item",
    };
    let span = (|input: ParseStream| {
        input.call(Attribute::parse_outer)?;
        input.parse::<Visibility>()?;
        let span = input.span();
        input.parse::<TokenStream>()?;
        Ok(span)
    })
    .parse2(item.clone())
    .ok()?;
    let extra = if what == "an impl block" {
        format!("; methods cannot be {}: write a free function and call the method from it", mac.plural())
    } else {
        String::new()
    };
    let target = if mac == Macro::AgentTask { "an `async fn`" } else { "a `fn` or `async fn`" };
    Some(syn::Error::new(span, format!("`{}` goes on {target}, not on {what}{extra}", mac.attr())))
}

/// Refuses what no macro accepts: `const`, `unsafe`, `extern`, generics, `where`, variadics.
pub(crate) fn check_shape(sig: &Signature, mac: Macro, errors: &mut Errors) {
    let noun = mac.noun();
    if let Some(constness) = &sig.constness {
        errors.push(syn::Error::new(constness.span, format!("{noun} cannot be a `const fn`: remove `const`")));
    }
    if let Safety::Unsafe(unsafety) = &sig.safety {
        errors.push(syn::Error::new(
            unsafety.span,
            format!(
                "{noun} cannot be an `unsafe fn`, since {} that calls it cannot uphold its safety \
                 requirements: remove `unsafe` (use an `unsafe` block inside if needed)",
                mac.caller()
            ),
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            format!("{noun} cannot have an `extern` ABI: remove `{}`", abi.to_token_stream()),
        ));
    }
    for param in &sig.generics.params {
        let message = match (param, mac) {
            (GenericParam::Lifetime(l), Macro::Hook) => format!(
                "a hook cannot have lifetime parameters: remove `{}` and write references without lifetimes, such as `&RunInput`",
                l.lifetime
            ),
            (GenericParam::Lifetime(l), _) => format!(
                "{noun} cannot have lifetime parameters: remove `{}`; task arguments are owned values, such as `String`",
                l.lifetime
            ),
            (GenericParam::Type(t), Macro::Hook) => {
                format!("a hook cannot be generic: remove `{}` and write the concrete types, such as `&Agent`", t.ident)
            }
            (GenericParam::Type(t), _) => format!(
                "{noun} cannot be generic: remove `{}` and write the concrete types, such as `String`; \
                 its arguments and output are stored under one type each",
                t.ident
            ),
            (GenericParam::Const(c), _) => format!("{noun} cannot have const parameters: remove `{}`", c.ident),
        };
        errors.push(syn::Error::new_spanned(param, message));
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            where_clause.where_token,
            format!("{noun} cannot have a `where` clause: remove it and write the concrete types"),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(variadic, format!("{noun} cannot be variadic: remove `...`")));
    }
}

/// The error for a `self` parameter.
pub(crate) fn receiver_error(receiver: &impl ToTokens, mac: Macro) -> syn::Error {
    syn::Error::new_spanned(
        receiver,
        format!(
            "`{}` goes on free functions, not methods: remove `self` (or write a free function that calls the method)",
            mac.attr()
        ),
    )
}

/// `ref name` and `name @ pattern` are refused with these messages; `Ok(None)` is any other
/// pattern than a plain (possibly `mut`) name.
pub(crate) fn plain_name<'p>(pat: &'p Pat, what: &str, example: &str) -> Result<Option<&'p syn::Ident>, syn::Error> {
    match pat {
        Pat::Ident(pi) => match (&pi.by_ref, &pi.subpat) {
            (None, None) => Ok(Some(&pi.ident)),
            (Some(by_ref), _) => Err(syn::Error::new(
                by_ref.span,
                format!("remove `ref`: {what} parameters are plain names such as `{example}`"),
            )),
            (None, Some((at, subpat))) => Err(syn::Error::new_spanned(
                quote!(#at #subpat),
                format!("remove `@ ...`: {what} parameters are plain names such as `{example}`"),
            )),
        },
        _ => Ok(None),
    }
}

/// The span of an `impl` keyword anywhere in a type.
pub(crate) fn impl_trait(ty: &Type) -> Option<Span> {
    fn find(tokens: TokenStream) -> Option<Span> {
        tokens.into_iter().find_map(|token| match token {
            TokenTree::Ident(ident) if ident == "impl" => Some(ident.span()),
            TokenTree::Group(group) => find(group.stream()),
            _ => None,
        })
    }
    find(ty.to_token_stream())
}

/// A span that points at `tokens` but resolves names like the rest of the expansion, so the
/// generated locals stay visible to each other whatever macro the tokens came from.
pub(crate) fn at(tokens: &impl Spanned) -> Span {
    Span::call_site().located_at(tokens.span())
}
