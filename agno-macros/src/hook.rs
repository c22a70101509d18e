//! `#[hook]`: checks the function and writes the hook type around it.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{FnArg, Pat, ReturnType, Signature, Type};

use crate::args::{self, HookArgs};
use crate::errors::Errors;
use crate::item::{self, FnItem, Macro, at, impl_trait};
use crate::params::{self, ParamDef, Source};
use crate::suggest::did_you_mean;

/// One checked parameter: its entry in the name table and its type.
struct Param<'f> {
    def: &'static ParamDef,
    ty: &'f Type,
}

/// Expands `#[hook(args)] item`. On any error the item comes back unchanged, followed by every
/// error found, so the rest of the crate still type-checks.
pub(crate) fn hook(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = args::parse::<HookArgs>(args, &mut errors);
    let func = match FnItem::parse(&item, Macro::Hook) {
        Ok(func) => func,
        Err(err) => {
            errors.push(err);
            return item::with_errors(item, errors);
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

/// Checks everything about the signature, recording every problem; returns the parameters that
/// could be understood.
fn check_signature<'f>(sig: &'f Signature, args: &HookArgs, errors: &mut Errors) -> Vec<Param<'f>> {
    item::check_shape(sig, Macro::Hook, errors);

    let mut params: Vec<Param<'f>> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for input in &sig.inputs {
        let arg = match input {
            FnArg::Receiver(receiver) => {
                errors.push(item::receiver_error(receiver, Macro::Hook));
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
    let message = match item::plain_name(pat, "hook", "agent") {
        Ok(Some(ident)) => return Some(ident),
        Err(err) => {
            errors.push(err);
            return None;
        }
        Ok(None) if matches!(pat, Pat::Wild(_)) => format!(
            "a hook parameter's name says what it receives, so it cannot be `_`: use one of {}",
            params::valid_names()
        ),
        Ok(None) => format!(
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
fn generate(func: &FnItem, args: &HookArgs, params: &[Param<'_>]) -> TokenStream {
    let krate = args.krate.clone().unwrap_or_else(|| syn::parse_quote!(::agno));
    let private = quote!(#krate::__private);
    let FnItem { vis, sig, body, .. } = func;
    let ident = &sig.ident;
    let name = ident.unraw().to_string();
    let background = args.run_in_background;

    let (cfgs, docs, others) = func.split_attrs();
    let mut inner_sig = sig.clone();
    inner_sig.ident = Ident::new("func", ident.span());

    let param_consts = params.iter().map(|p| {
        let Param { def, ty } = p;
        let trait_ = def.trait_path(&krate);
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
        let trait_ = def.trait_path(&krate);
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

/// The local variable holding a `HookContext` field.
fn local(field: &str) -> Ident {
    format_ident!("__{field}")
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;

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
        let parsed = args::parse::<HookArgs>(quote!(run_in_background = true, crate = "my::agno",), &mut errors);
        assert!(errors.finish().is_ok());
        assert!(parsed.run_in_background);
        assert_eq!(parsed.krate.to_token_stream().to_string(), "my :: agno");

        let mut errors = Errors::default();
        let parsed = args::parse::<HookArgs>(quote!(run_in_background = maybe, crate = , x), &mut errors);
        assert!(!parsed.run_in_background);
        assert_eq!(errors.finish().unwrap_err().into_iter().count(), 3);
    }
}
