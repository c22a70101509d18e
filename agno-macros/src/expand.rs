//! `#[hook]`: checks the function and writes the hook type around it.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, GenericParam, Item, Pat, ReturnType, Safety, Signature, Type, Visibility, token};

use crate::args::{self, HookArgs};
use crate::errors::Errors;
use crate::params::{self, ParamDef, Source};
use crate::suggest::did_you_mean;

/// A function whose body is kept as unparsed tokens: `#[hook]` never looks inside the body, so
/// a body with syntax errors still gets its signature checked and is handed to rustc as it is.
struct HookFn {
    attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
    body: TokenTree,
}

impl Parse for HookFn {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig: Signature = input.parse()?;
        if !input.peek(token::Brace) {
            return Err(input.error("expected the function's body `{ ... }`: a hook needs one"));
        }
        let body = input.parse()?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the function"));
        }
        Ok(Self { attrs, vis, sig, body })
    }
}

/// One checked parameter: its entry in the name table and its type.
struct Param<'f> {
    def: &'static ParamDef,
    ty: &'f Type,
}

/// Expands `#[hook(args)] item`. On any error the item comes back unchanged, followed by every
/// error found, so the rest of the crate still type-checks.
pub(crate) fn hook(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = args::parse(args, &mut errors);
    let func = match syn::parse2::<HookFn>(item.clone()) {
        Ok(func) => func,
        Err(err) => {
            errors.push(not_a_fn(&item).unwrap_or(err));
            return with_errors(item, errors);
        }
    };
    let params = check_signature(&func.sig, &args, &mut errors);
    match errors.finish() {
        Ok(()) => generate(&func, &args, &params),
        Err(err) => {
            let mut tokens = item;
            tokens.extend(err.into_compile_error());
            tokens
        }
    }
}

fn with_errors(mut item: TokenStream, errors: Errors) -> TokenStream {
    if let Err(err) = errors.finish() {
        item.extend(err.into_compile_error());
    }
    item
}

/// If `item` is an item other than a function, an error on its first token naming what it is.
fn not_a_fn(item: &TokenStream) -> Option<syn::Error> {
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
        "; methods cannot be hooks: write a free function and call the method from it"
    } else {
        ""
    };
    Some(syn::Error::new(span, format!("`#[hook]` goes on a `fn` or `async fn`, not on {what}{extra}")))
}

/// Checks everything about the signature, recording every problem; returns the parameters that
/// could be understood.
fn check_signature<'f>(sig: &'f Signature, args: &HookArgs, errors: &mut Errors) -> Vec<Param<'f>> {
    if let Some(constness) = &sig.constness {
        errors.push(syn::Error::new(constness.span, "a hook cannot be a `const fn`: remove `const`"));
    }
    if let Safety::Unsafe(unsafety) = &sig.safety {
        errors.push(syn::Error::new(
            unsafety.span,
            "a hook cannot be an `unsafe fn`, since the run that calls it cannot uphold its safety \
             requirements: remove `unsafe` (use an `unsafe` block inside if needed)",
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            format!("a hook cannot have an `extern` ABI: remove `{}`", abi.to_token_stream()),
        ));
    }
    for param in &sig.generics.params {
        let message = match param {
            GenericParam::Lifetime(l) => format!(
                "a hook cannot have lifetime parameters: remove `{}` and write references without lifetimes, such as `&RunInput`",
                l.lifetime
            ),
            GenericParam::Type(t) => {
                format!("a hook cannot be generic: remove `{}` and write the concrete types, such as `&Agent`", t.ident)
            }
            GenericParam::Const(c) => {
                format!("a hook cannot have const parameters: remove `{}`", c.ident)
            }
        };
        errors.push(syn::Error::new_spanned(param, message));
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            where_clause.where_token,
            "a hook cannot have a `where` clause: remove it and write the concrete types",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(variadic, "a hook cannot be variadic: remove `...`"));
    }

    let mut params: Vec<Param<'f>> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for input in &sig.inputs {
        let arg = match input {
            FnArg::Receiver(receiver) => {
                errors.push(syn::Error::new_spanned(
                    receiver,
                    "`#[hook]` goes on free functions, not methods: remove `self` (or write a free \
                     function that calls the method)",
                ));
                continue;
            }
            FnArg::Typed(arg) => arg,
        };
        let Some(ident) = param_name(&arg.pat, errors) else { continue };
        let name = ident.unraw().to_string();
        let Some(def) = params::lookup(&name) else {
            errors.push(syn::Error::new(ident.span(), unknown_param(&name)));
            continue;
        };
        if seen.contains(&def.name) {
            errors.push(syn::Error::new(
                ident.span(),
                format!("`{name}` is taken twice; a hook takes each parameter at most once"),
            ));
            continue;
        }
        seen.push(def.name);
        let mut ok = true;
        if let Some(span) = impl_trait(&arg.ty) {
            let concrete = match def.referent {
                Some(referent) => format!(", such as `&{referent}`"),
                None => String::new(),
            };
            errors.push(syn::Error::new(
                span,
                format!("`impl Trait` makes the hook generic, which it cannot be: write the concrete type{concrete}"),
            ));
            ok = false;
        }
        if let Some(ty) = mut_reference(&arg.ty).filter(|_| args.run_in_background) {
            let message = match def.referent {
                Some(referent) => format!(
                    "background hooks cannot modify the run: take `&{referent}` instead of `&mut {referent}` (or drop `run_in_background`)"
                ),
                None => {
                    "background hooks cannot modify the run: take `&` instead of `&mut` (or drop `run_in_background`)"
                        .to_owned()
                }
            };
            errors.push(syn::Error::new_spanned(ty, message));
            ok = false;
        }
        if ok {
            params.push(Param { def, ty: &arg.ty });
        }
    }
    params
}

/// The name of a parameter, or an error if its pattern is not a plain name.
fn param_name<'p>(pat: &'p Pat, errors: &mut Errors) -> Option<&'p Ident> {
    let message = match pat {
        Pat::Ident(pi) => match (&pi.by_ref, &pi.subpat) {
            (None, None) => return Some(&pi.ident),
            (Some(by_ref), _) => {
                errors.push(syn::Error::new(
                    by_ref.span,
                    "remove `ref`: hook parameters are plain names such as `agent`",
                ));
                return None;
            }
            (None, Some((at, subpat))) => {
                errors.push(syn::Error::new_spanned(
                    quote!(#at #subpat),
                    "remove `@ ...`: hook parameters are plain names such as `agent`",
                ));
                return None;
            }
        },
        Pat::Wild(_) => format!(
            "a hook parameter's name says what it receives, so it cannot be `_`: use one of {}",
            params::valid_names()
        ),
        _ => format!(
            "hook parameters are plain names that say what they receive, not patterns: use one of {}",
            params::valid_names()
        ),
    };
    errors.push(syn::Error::new_spanned(pat, message));
    None
}

/// The message for a parameter name that is not in the table.
fn unknown_param(name: &str) -> String {
    if let Some(known) = name.strip_prefix('_').and_then(params::lookup) {
        return format!(
            "unknown hook parameter `{name}`: parameters are matched by name, so `{name}` is not `{known}`; \
             name it `{known}` (or remove it if the hook does not use it)",
            known = known.name
        );
    }
    let mut message = format!("unknown hook parameter `{name}`; valid names: {}", params::valid_names());
    if let Some(close) = did_you_mean(name, params::PARAMS.iter().map(|p| p.name)) {
        message = format!("{message}; did you mean `{close}`?");
    }
    message
}

/// The span of an `impl` keyword anywhere in a type.
fn impl_trait(ty: &Type) -> Option<Span> {
    fn find(tokens: TokenStream) -> Option<Span> {
        tokens.into_iter().find_map(|token| match token {
            TokenTree::Ident(ident) if ident == "impl" => Some(ident.span()),
            TokenTree::Group(group) => find(group.stream()),
            _ => None,
        })
    }
    find(ty.to_token_stream())
}

/// The type itself if it is a `&mut` reference.
fn mut_reference(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Reference(r) if r.mutability.is_some() => Some(ty),
        Type::Paren(p) => mut_reference(&p.elem),
        Type::Group(g) => mut_reference(&g.elem),
        _ => None,
    }
}

/// Writes the hook type: a unit struct named after the function, an inherent impl with
/// `DESCRIPTOR` and the function as `func`, the `Hook` impl, and the registry entry.
fn generate(func: &HookFn, args: &HookArgs, params: &[Param<'_>]) -> TokenStream {
    let krate = args.krate.clone().unwrap_or_else(|| syn::parse_quote!(::agno));
    let private = quote!(#krate::__private);
    let HookFn { attrs, vis, sig, body } = func;
    let ident = &sig.ident;
    let name = ident.unraw().to_string();
    let background = args.run_in_background;

    let is = |attr: &Attribute, name: &str| attr.path().is_ident(name);
    let docs = attrs.iter().filter(|a| is(a, "doc"));
    let cfgs: Vec<_> = attrs.iter().filter(|a| is(a, "cfg")).collect();
    let others = attrs.iter().filter(|a| !is(a, "doc") && !is(a, "cfg"));
    let mut inner_sig = sig.clone();
    inner_sig.ident = Ident::new("func", ident.span());

    let param_consts = params.iter().map(|p| {
        let Param { def, ty } = p;
        let trait_ = trait_path(&private, def);
        quote_spanned!(at(ty)=> .union(<#ty as #trait_>::PARAM))
    });

    let mut fields: Vec<&str> = params.iter().map(|p| p.def.source.field()).collect();
    fields.sort_unstable();
    fields.dedup();
    let bindings = fields.iter().map(|f| {
        let (field, local) = (format_ident!("{f}"), local(f));
        quote!(#field: #local)
    });
    let unwraps = params.iter().filter_map(|p| match p.def.source {
        Source::Required(field) => {
            let local = local(field);
            Some(quote! {
                let ::core::option::Option::Some(#local) = #local else {
                    return ::core::result::Result::Ok(#private::HookCall::Done(
                        ::core::result::Result::Err(#private::HookError::Missing(#field)),
                    ));
                };
            })
        }
        Source::Field(_) => None,
    });
    let call_args = params.iter().map(|p| {
        let Param { def, ty } = p;
        let trait_ = trait_path(&private, def);
        let method = format_ident!("{}", def.method);
        let source = local(def.source.field());
        quote_spanned!(at(ty)=> <#ty as #trait_>::#method(#source))
    });
    // A return type that is not `()` or `Result<(), E>` is reported on the return type.
    let finish = match &sig.output {
        ReturnType::Type(_, ty) if sig.asyncness.is_none() && impl_trait(ty).is_none() => {
            quote_spanned!(at(ty)=> #private::HookCall::done::<#ty>(__result))
        }
        ReturnType::Type(_, ty) => {
            let constructor = if sig.asyncness.is_some() { quote!(pending) } else { quote!(done) };
            quote_spanned!(at(ty)=> #private::HookCall::#constructor(__result))
        }
        ReturnType::Default if sig.asyncness.is_some() => {
            quote_spanned!(at(ident)=> #private::HookCall::pending(__result))
        }
        ReturnType::Default => quote!(#private::HookCall::done(__result)),
    };

    quote! {
        #(#cfgs)*
        #(#docs)*
        #[allow(non_camel_case_types)]
        #vis struct #ident;

        #(#cfgs)*
        impl #ident {
            /// This hook's entry in the registry of hooks and tasks.
            #vis const DESCRIPTOR: #private::Descriptor =
                #private::Descriptor::hook(#name, ::core::module_path!(), #background);

            /// The function written under `#[hook]`, unchanged; call it directly.
            #(#others)*
            #vis #inner_sig #body

            /// What the hook takes (without a context) or its call; one body, so that a
            /// parameter of the wrong type is reported once.
            #[doc(hidden)]
            fn __hook<'a>(
                __cx: ::core::option::Option<#private::HookContext<'a>>,
            ) -> ::core::result::Result<#private::HookCall<'a>, #private::HookParams> {
                let ::core::option::Option::Some(__cx) = __cx else {
                    return ::core::result::Result::Err(#private::HookParams::NONE #(#param_consts)*);
                };
                let #private::HookContext { #(#bindings,)* .. } = __cx;
                #(#unwraps)*
                let __result = Self::func(#(#call_args),*);
                ::core::result::Result::Ok(#finish)
            }
        }

        #(#cfgs)*
        impl #private::Hook for #ident {
            fn name(&self) -> &str {
                #name
            }

            fn params(&self) -> #private::HookParams {
                Self::__hook(::core::option::Option::None).err().unwrap_or_default()
            }

            fn run_in_background(&self) -> bool {
                #background
            }

            fn call<'a>(&'a self, cx: #private::HookContext<'a>) -> #private::HookCall<'a> {
                Self::__hook(::core::option::Option::Some(cx))
                    .unwrap_or_else(|_| #private::HookCall::Done(::core::result::Result::Ok(())))
            }
        }

        #(#cfgs)*
        #private::inventory::submit! { #ident::DESCRIPTOR }
    }
}

/// `__private::FromRunInput<'a>`.
fn trait_path(private: &TokenStream, def: &ParamDef) -> TokenStream {
    let trait_ = format_ident!("{}", def.trait_name);
    if def.has_lifetime { quote!(#private::#trait_<'a>) } else { quote!(#private::#trait_) }
}

/// A span that points at `tokens` but resolves names like the rest of the expansion, so the
/// generated locals stay visible to each other whatever macro the tokens came from.
fn at(tokens: &impl Spanned) -> Span {
    Span::call_site().located_at(tokens.span())
}

/// The local variable holding a `HookContext` field.
fn local(field: &str) -> Ident {
    format_ident!("__{field}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(args: TokenStream, item: TokenStream) -> String {
        hook(args, item).to_string()
    }

    #[test]
    fn writes_the_hook_type() {
        let out = expand(
            quote!(run_in_background = true),
            quote! {
                /// Docs.
                #[allow(unused)]
                pub async fn send_notification(run_output: &RunOutput, agent: &Agent) {}
            },
        );
        assert!(out.contains("pub struct send_notification ;"), "{out}");
        assert!(out.contains("pub const DESCRIPTOR"), "{out}");
        assert!(
            out.contains("Descriptor :: hook (\"send_notification\" , :: core :: module_path ! () , true)"),
            "{out}"
        );
        assert!(out.contains("# [allow (unused)] pub async fn func"), "{out}");
        assert!(
            out.contains(":: agno :: __private :: FromRunOutput < 'a > > :: from_run_output (__run_output)"),
            "{out}"
        );
        assert!(out.contains("HookError :: Missing (\"run_output\")"), "{out}");
        assert!(out.contains("HookCall :: pending (__result)"), "{out}");
        assert!(out.contains("inventory :: submit !"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn the_crate_path_can_be_changed() {
        let out = expand(
            quote!(crate = agno_core),
            quote!(
                fn f(debug_mode: bool) {}
            ),
        );
        assert!(out.contains("agno_core :: __private :: FromDebugMode > :: from_debug_mode (__debug_mode)"), "{out}");
        assert!(!out.contains(":: agno ::"), "{out}");
    }

    #[test]
    fn errors_keep_the_function_as_written() {
        let item = quote!(
            fn f(foo: &Agent, _: bool) {
                body()
            }
        );
        let out = expand(quote!(run_in_bg = true), item.clone());
        assert!(out.starts_with(&item.to_string()), "{out}");
        assert_eq!(out.matches("compile_error").count(), 3, "{out}");
        assert!(!out.contains("struct"), "{out}");
    }

    #[test]
    fn other_items_are_named() {
        let out = expand(
            TokenStream::new(),
            quote!(
                enum E {
                    A,
                }
            ),
        );
        assert!(out.contains("not on an enum"), "{out}");
        let out = expand(
            TokenStream::new(),
            quote!(
                fn f(agent: &Agent);
            ),
        );
        assert!(out.contains("expected the function's body"), "{out}");
    }

    #[test]
    fn arguments() {
        let mut errors = Errors::default();
        let parsed = args::parse(quote!(run_in_background = true, crate = "my::agno",), &mut errors);
        assert!(errors.finish().is_ok());
        assert!(parsed.run_in_background);
        assert_eq!(parsed.krate.to_token_stream().to_string(), "my :: agno");

        let mut errors = Errors::default();
        let parsed = args::parse(quote!(run_in_background = maybe, crate = , x), &mut errors);
        assert!(!parsed.run_in_background);
        assert_eq!(errors.finish().unwrap_err().into_iter().count(), 3);
    }
}
