//! The "New group" and "New project" pages (GitLab's `/groups/new` and `/projects/new`): the
//! same services, and so the same rules, as `POST /api/v4/groups` and `/api/v4/projects`.

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, web};
use askama::Template;

use super::{Chrome, Fields, PageResult, Visitor, page_error, see_other, show, visit};
use crate::access::Operation;
use crate::auth::Caller;
use crate::error::Error;
use crate::model::{Namespace, NamespaceKind, Visibility};
use crate::registry::{namespaces, structure};
use crate::routes::Routes;
use crate::server::AppState;

pub fn configure(routes: &mut Routes) {
    for (path, creation) in [
        ("/groups/new", Operation::GroupCreate),
        ("/projects/new", Operation::ProjectCreate),
    ] {
        // Showing the form lists where the visitor may create; each creation is judged itself.
        routes.add(Method::GET, path, Operation::PlacesList, new_place_page);
        routes.add(Method::POST, path, creation, create_place);
    }
}

#[derive(Template)]
#[template(path = "web/new_place.html")]
struct NewPlacePage {
    chrome: Chrome,
    /// "group" or "project".
    kind: &'static str,
    /// Where it may go: (namespace id, full path, chosen). A group may also go at the top.
    parents: Vec<(i64, String, bool)>,
    /// What was typed, shown again with the problem.
    name: String,
    path: String,
    description: String,
    visibilities: Vec<(&'static str, bool)>,
    problem: Option<String>,
}

/// Whether the page at this address makes projects (else groups).
fn makes_projects(req: &HttpRequest) -> bool {
    req.path().starts_with("/projects/")
}

async fn new_place_page(req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    let projects = makes_projects(&req);
    // `?namespace_id=` (GitLab's link from a group page) chooses the place at once.
    let chosen = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .ok()
        .and_then(|q| {
            q.iter()
                .find(|(k, _)| k == "namespace_id" || k == "parent_id")
                .map(|(_, v)| v.clone())
        });
    let page = visit(&req, &state, move |conn, visitor| {
        signed_in(visitor)?;
        let typed = Typed {
            name: String::new(),
            path: String::new(),
            description: String::new(),
            parent: chosen,
            parent_path: None,
            visibility: None,
        };
        form_page(conn, visitor, projects, typed, None)
    })
    .await?;
    show(&req, &page, StatusCode::OK)
}

async fn create_place(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> PageResult {
    let projects = makes_projects(&req);
    let fields = Fields::parse(&body).map_err(|e| page_error(&req, e))?;
    let outcome = visit(&req, &state, move |conn, visitor| {
        visitor.check_form(&fields.get("csrf_token"))?;
        let typed = Typed::from(&fields);
        let caller = visitor.caller();
        let created = create(conn, &caller, projects, &typed);
        match created {
            Ok(full_path) => Ok(Ok(full_path)),
            // What was wrong shows above the form, with what was typed.
            Err(Error::BadRequest(problem) | Error::Conflict(problem)) => {
                let page = form_page(conn, visitor, projects, typed, Some(problem))?;
                Ok(Err(Box::new(page)))
            }
            Err(other) => Err(other),
        }
    })
    .await?;
    match outcome {
        Ok(full_path) => Ok(see_other(&format!("/{full_path}"))),
        Err(page) => show(&req, page.as_ref(), StatusCode::BAD_REQUEST),
    }
}

/// What the visitor typed into the form, kept as typed so that a page with the problem can
/// show it again.
struct Typed {
    name: String,
    path: String,
    description: String,
    parent: Option<String>,
    /// A parent typed by its full path (the form lists only some): wins over the list.
    parent_path: Option<String>,
    visibility: Option<String>,
}

impl Typed {
    fn from(fields: &Fields) -> Typed {
        Typed {
            name: fields.get("name").trim().to_owned(),
            path: fields.get("path").trim().to_owned(),
            description: fields.get("description"),
            parent: fields
                .optional("namespace_id")
                .or_else(|| fields.optional("parent_id")),
            parent_path: fields
                .optional("parent_path")
                .map(|p| p.trim().trim_matches('/').to_owned())
                .filter(|p| !p.is_empty()),
            visibility: fields.optional("visibility"),
        }
    }

    fn parent(&self) -> Result<Option<i64>, Error> {
        let parse = |id: &String| {
            id.parse()
                .map_err(|_| Error::bad_request(format!("\"{id}\" names no namespace")))
        };
        self.parent.as_ref().map(parse).transpose()
    }

    fn visibility(&self) -> Result<Visibility, Error> {
        let visibility = self.visibility.as_deref().map(str::parse).transpose()?;
        Ok(visibility.unwrap_or(Visibility::Private))
    }
}

/// Creates what the form asks, as the API does (a path derived from the name when none is
/// given), and answers its full path.
fn create(
    conn: &mut rusqlite::Connection,
    caller: &Caller,
    projects: bool,
    typed: &Typed,
) -> Result<String, Error> {
    let settings = crate::routes::place_settings::Settings {
        name: Some(typed.name.clone()).filter(|n| !n.is_empty()),
        path: Some(typed.path.clone()).filter(|p| !p.is_empty()),
        description: Some(typed.description.clone()).filter(|d| !d.is_empty()),
        ..Default::default()
    };
    let path = settings.path()?;
    let text = settings.text();
    let parent = match &typed.parent_path {
        // Found as the caller may see it: a hidden group answers as one that is not there.
        Some(path) => Some(
            namespaces::get(conn, caller, path)
                .map_err(|_| Error::bad_request(format!("\"{path}\" names no namespace")))?
                .id,
        ),
        None => typed.parent()?,
    };
    let visibility = typed.visibility()?;
    if projects {
        // No namespace: the visitor's own, as on the API.
        let project = structure::create_project(conn, caller, &path, parent, visibility, &text)?;
        Ok(project.full_path)
    } else {
        let group = structure::create_group(conn, caller, &path, parent, visibility, &text)?;
        Ok(group.full_path)
    }
}

fn form_page(
    conn: &rusqlite::Connection,
    visitor: &Visitor,
    projects: bool,
    typed: Typed,
    problem: Option<String>,
) -> Result<NewPlacePage, Error> {
    let caller = visitor.caller();
    let chosen = typed.parent().ok().flatten();
    let places: Vec<Namespace> = namespaces::creatable(conn, &caller, projects, chosen)?;
    let own = places
        .iter()
        .find(|n| n.kind == NamespaceKind::User)
        .map(|n| n.id);
    let chosen = chosen.or(own);
    let visibility = typed.visibility().unwrap_or(Visibility::Private);
    let parents = places
        .into_iter()
        .map(|n| (n.id, n.full_path, Some(n.id) == chosen))
        .collect();
    Ok(NewPlacePage {
        chrome: visitor.chrome(),
        kind: if projects { "project" } else { "group" },
        parents,
        name: typed.name,
        path: typed.path,
        description: typed.description,
        visibilities: ["private", "internal", "public"]
            .into_iter()
            .map(|v| (v, v == visibility.as_str()))
            .collect(),
        problem,
    })
}

fn signed_in(visitor: &Visitor) -> Result<(), Error> {
    visitor
        .session
        .as_ref()
        .map(drop)
        .ok_or(Error::Unauthorized)
}
