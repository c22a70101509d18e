//! `#[hook]`: checks the function and writes the hook type around it.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{FnArg, Pat, ReturnType, Signature, Type};

use crate::args::{self, HookArgs};
use crate::errors::Errors;
use crate::item::{self, FnItem, Macro, at, impl_trait};
use crate::params::{self, ClaudeSource, ParamDef, Source};
use crate::suggest::did_you_mean;

/// One checked parameter: its entry in the name table, its name and its type.
struct Param<'f> {
    def: &'static ParamDef,
    ident: &'f Ident,
    ty: &'f Type,
}

/// What a function becomes: an agent hook, a Claude Code handler, or both (when nothing it
/// takes or returns belongs to one of them only).
#[derive(Clone, Copy)]
struct Targets {
    agent: bool,
    claude: bool,
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
    let targets = targets(&func.sig, &args, &params, &mut errors);
    match errors.finish() {
        Ok(()) => generate(&func, &args, &params, targets),
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
        if def.claude == Some(ClaudeSource::Event) && !is_event_type(&arg.ty) {
            errors.push(syn::Error::new_spanned(
                &arg.ty,
                format!(
                    "`event` must be a reference to a Claude Code event type: {}, or `&HookEvent` for any event",
                    EVENT_TYPES.iter().map(|e| format!("`&{e}`")).collect::<Vec<_>>().join(", ")
                ),
            ));
            ok = false;
        }
        if ok {
            params.push(Param { def, ident, ty: &arg.ty });
        }
    }
    params
}

/// The event types a handler's `event` may name (besides `HookEvent`).
const EVENT_TYPES: &[&str] = &[
    "PreToolUse",
    "PostToolUse",
    "PermissionRequest",
    "UserPromptSubmit",
    "Stop",
    "SubagentStop",
    "SessionStart",
    "SessionEnd",
    "PreCompact",
    "Notification",
];

/// Whether a type is, as written, a shared reference to an event type (any path ending in one).
fn is_event_type(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) if r.mutability.is_none() => match &*r.elem {
            Type::Path(p) => {
                p.qself.is_none()
                    && p.path.segments.last().is_some_and(|last| {
                        last.arguments.is_empty()
                            && (last.ident == "HookEvent" || EVENT_TYPES.iter().any(|e| last.ident == e))
                    })
            }
            Type::Paren(inner) => {
                is_event_type(&Type::Reference(syn::TypeReference { elem: inner.elem.clone(), ..r.clone() }))
            }
            _ => false,
        },
        Type::Paren(p) => is_event_type(&p.elem),
        Type::Group(g) => is_event_type(&g.elem),
        _ => false,
    }
}

/// Decides what the function becomes, and reports a mix of agent and Claude Code parameters.
fn targets(sig: &Signature, args: &HookArgs, params: &[Param<'_>], errors: &mut Errors) -> Targets {
    let agent_only = params.iter().position(|p| p.def.claude.is_none());
    let claude_only = params.iter().position(|p| p.def.source.is_none());
    if let (Some(agent), Some(claude)) = (agent_only, claude_only) {
        let (first, second) = (&params[agent.min(claude)], &params[agent.max(claude)]);
        let kind = |p: &Param<'_>| if p.def.source.is_none() { "a Claude Code handler" } else { "an agent hook" };
        errors.push(syn::Error::new(
            second.ident.span(),
            format!(
                "`{}` is a parameter of {}, but `{}` one of {}: a function is one or the other",
                second.def.name,
                kind(second),
                first.def.name,
                kind(first)
            ),
        ));
    }
    if claude_only.is_some() && args.run_in_background {
        errors.push(syn::Error::new(
            sig.ident.span(),
            "`run_in_background` is for agent hooks: a Claude Code handler answers at once; \
             put slow work in a `#[task]` and add it with `tasks.add(..)`",
        ));
    }
    let (agent_return, claude_return) = match &sig.output {
        ReturnType::Default => (true, false),
        ReturnType::Type(_, ty) => (returns_unit_or_unit_result(ty), mentions_response(ty)),
    };
    // With nothing that belongs to one side, a function returning `()` is both, one returning a
    // `Response` is a handler, and one returning anything else gets the agent hook's message.
    Targets {
        agent: claude_only.is_none() && (agent_only.is_some() || agent_return || !claude_return),
        claude: agent_only.is_none() && (claude_only.is_some() || agent_return || claude_return),
    }
}

/// Whether a return type names `Response` (a Claude Code handler's answer).
fn mentions_response(ty: &Type) -> bool {
    fn find(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|token| match token {
            proc_macro2::TokenTree::Ident(ident) => ident == "Response",
            proc_macro2::TokenTree::Group(group) => find(group.stream()),
            _ => false,
        })
    }
    find(quote!(#ty))
}

/// Whether a return type is, as written, `()` or `Result<(), ..>` (what agent hooks return).
fn returns_unit_or_unit_result(ty: &Type) -> bool {
    match ty {
        Type::Tuple(t) => t.elems.is_empty(),
        Type::Paren(p) => returns_unit_or_unit_result(&p.elem),
        Type::Group(g) => returns_unit_or_unit_result(&g.elem),
        Type::Path(p) => p.path.segments.last().is_some_and(|last| {
            last.ident == "Result"
                && matches!(&last.arguments, syn::PathArguments::AngleBracketed(a)
                    if matches!(a.args.first(), Some(syn::GenericArgument::Type(first)) if returns_unit_or_unit_result(first)))
        }),
        _ => false,
    }
}

/// The type with every elided reference lifetime made `'static`, for use outside a function body.
fn with_static_lifetimes(ty: &Type) -> Type {
    let mut ty = ty.clone();
    fn visit(ty: &mut Type) {
        match ty {
            Type::Reference(r) => {
                if r.lifetime.is_none() {
                    r.lifetime = Some(syn::Lifetime::new("'static", r.and_token.span));
                }
                visit(&mut r.elem);
            }
            Type::Paren(p) => visit(&mut p.elem),
            Type::Group(g) => visit(&mut g.elem),
            _ => {}
        }
    }
    visit(&mut ty);
    ty
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
/// `DESCRIPTOR` and the function as `func`, the registry entry, and the `Hook` impl (agent
/// hooks) and/or the `Handler` impl (Claude Code handlers).
fn generate(func: &FnItem, args: &HookArgs, params: &[Param<'_>], targets: Targets) -> TokenStream {
    let krate = args.krate.clone().unwrap_or_else(|| syn::parse_quote!(::agno));
    let private = quote!(#krate::__private);
    let FnItem { vis, sig, body, .. } = func;
    let ident = &sig.ident;
    let name = ident.unraw().to_string();
    let background = args.run_in_background;

    let (cfgs, docs, others) = func.split_attrs();
    let mut inner_sig = sig.clone();
    inner_sig.ident = Ident::new("func", ident.span());
    let agent = targets.agent.then(|| agent_impl(sig, params, &krate, &name, background));
    let claude = targets.claude.then(|| claude_impl(sig, params, &krate, &name));

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
        }

        #(#cfgs)*
        #agent

        #(#cfgs)*
        #claude

        #(#cfgs)*
        #private::inventory::submit! { #ident::DESCRIPTOR }
    }
}

/// How the function's result becomes the call (`done` for sync functions, `pending` for async
/// ones); a wrong return type is reported on the return type.
fn finish(sig: &Signature, call: &TokenStream) -> TokenStream {
    match &sig.output {
        ReturnType::Type(_, ty) if sig.asyncness.is_none() && impl_trait(ty).is_none() => {
            quote_spanned!(at(ty)=> #call::done::<#ty>(__result))
        }
        ReturnType::Type(_, ty) => {
            let constructor = if sig.asyncness.is_some() { quote!(pending) } else { quote!(done) };
            quote_spanned!(at(ty)=> #call::#constructor(__result))
        }
        ReturnType::Default if sig.asyncness.is_some() => quote_spanned!(at(&sig.ident)=> #call::pending(__result)),
        ReturnType::Default => quote!(#call::done(__result)),
    }
}

/// The agent side: `__hook` (what the hook takes, or its call) and the `Hook` impl.
fn agent_impl(sig: &Signature, params: &[Param<'_>], krate: &syn::Path, name: &str, background: bool) -> TokenStream {
    let private = quote!(#krate::__private);
    let ident = &sig.ident;
    let sources: Vec<(&Param<'_>, Source)> = params.iter().filter_map(|p| Some((p, p.def.source?))).collect();
    let param_consts = sources.iter().map(|(p, _)| {
        let Param { def, ty, .. } = p;
        let trait_ = def.trait_path(krate);
        quote_spanned!(at(ty)=> .union(<#ty as #trait_>::PARAM))
    });

    let mut fields: Vec<&str> = sources.iter().map(|(_, source)| source.field()).collect();
    fields.sort_unstable();
    fields.dedup();
    let bindings = fields.iter().map(|f| {
        let (field, local) = (format_ident!("{f}"), local(f));
        quote!(#field: #local)
    });
    let unwraps = sources.iter().filter_map(|(_, source)| match source {
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
    let call_args = sources.iter().map(|(p, source)| {
        let Param { def, ty, .. } = p;
        let trait_ = def.trait_path(krate);
        let method = format_ident!("{}", def.method);
        let source = local(source.field());
        quote_spanned!(at(ty)=> <#ty as #trait_>::#method(#source))
    });
    let finish = finish(sig, &quote!(#private::HookCall));

    quote! {
        impl #ident {
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
    }
}

/// The Claude Code side: the `Handler` impl, whose event type comes from the `event` parameter.
fn claude_impl(sig: &Signature, params: &[Param<'_>], krate: &syn::Path, name: &str) -> TokenStream {
    let private = quote!(#krate::__private);
    let ident = &sig.ident;
    let sources: Vec<(&Param<'_>, ClaudeSource)> = params.iter().filter_map(|p| Some((p, p.def.claude?))).collect();
    let event_type = sources
        .iter()
        .find(|(_, source)| *source == ClaudeSource::Event)
        .map(|(p, _)| {
            let ty = with_static_lifetimes(p.ty);
            quote_spanned!(at(p.ty)=> type Event = <#ty as #private::FromEvent>::Kind;)
        })
        .unwrap_or_else(|| quote!(type Event = #private::HookEvent;));
    let needs_tasks = sources.iter().any(|(_, source)| *source == ClaudeSource::Tasks);
    let mut bindings = Vec::new();
    let mut call_args = Vec::new();
    for (p, source) in &sources {
        let Param { def, ty, .. } = p;
        let trait_ = def.trait_path(krate);
        let method = format_ident!("{}", def.method);
        let local = local(def.name);
        match source {
            ClaudeSource::Event => {
                bindings.push(quote! {
                    let ::core::option::Option::Some(#local) =
                        <<Self as #private::Handler>::Event as #private::EventType>::extract(__cx.event)
                    else {
                        return #private::HandlerCall::wrong_event::<<Self as #private::Handler>::Event>(__cx.event);
                    };
                });
                call_args.push(quote!(#local));
            }
            ClaudeSource::Tasks => {
                bindings.push(quote! {
                    let ::core::option::Option::Some(#local) = __cx.tasks else {
                        return #private::HandlerCall::missing("tasks");
                    };
                });
                call_args.push(quote_spanned!(at(ty)=> <#ty as #trait_>::#method(#local)));
            }
            ClaudeSource::Field(field) => {
                let field = format_ident!("{field}");
                call_args.push(quote_spanned!(at(ty)=> <#ty as #trait_>::#method(__cx.#field)));
            }
        }
    }
    let finish = finish(sig, &quote!(#private::HandlerCall));
    quote! {
        impl #private::Handler for #ident {
            #event_type

            fn name(&self) -> &str {
                #name
            }

            fn needs_tasks(&self) -> bool {
                #needs_tasks
            }

            fn call<'a>(&'a self, __cx: #private::HandlerContext<'a>) -> #private::HandlerCall<'a> {
                #(#bindings)*
                let __result = Self::func(#(#call_args),*);
                #finish
            }
        }
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
    fn claude_code_handlers_get_the_handler_impl_only() {
        let out = expand(
            TokenStream::new(),
            quote!(
                fn on_write(event: &PreToolUse, tasks: &Tasks) -> Response {
                    allow()
                }
            ),
        );
        assert!(out.contains("impl :: agno :: __private :: Handler for on_write"), "{out}");
        assert!(
            out.contains("type Event = < & 'static PreToolUse as :: agno :: __private :: FromEvent > :: Kind"),
            "{out}"
        );
        assert!(out.contains("fn needs_tasks (& self) -> bool { true }"), "{out}");
        assert!(!out.contains("__private :: Hook for"), "{out}");

        // Nothing of either side and `()`: both.
        let out = expand(
            TokenStream::new(),
            quote!(
                fn both(tasks: &Tasks) {}
            ),
        );
        assert!(out.contains("__private :: Hook for both") && out.contains("__private :: Handler for both"), "{out}");
        assert!(out.contains("type Event = :: agno :: __private :: HookEvent"), "{out}");
        // A `Response` makes it a handler, anything else keeps the agent hook's messages.
        let out = expand(
            TokenStream::new(),
            quote!(
                fn answer() -> Response {
                    allow()
                }
            ),
        );
        assert!(!out.contains("__private :: Hook for") && out.contains("__private :: Handler for"), "{out}");
        let out = expand(
            TokenStream::new(),
            quote!(
                fn text() -> String {
                    String::new()
                }
            ),
        );
        assert!(out.contains("__private :: Hook for") && !out.contains("__private :: Handler for"), "{out}");
        // Agent parameters: the agent hook only.
        let out = expand(
            TokenStream::new(),
            quote!(
                fn pre(run_input: &RunInput) {}
            ),
        );
        assert!(out.contains("__private :: Hook for") && !out.contains("__private :: Handler for"), "{out}");
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
