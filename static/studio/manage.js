// Running a project from the studio: start a project (home page); on the members page a manager
// adds members, changes their roles, removes them and edits the project's policies. Every change
// is a REST call (the same actions, role checks and audit trail as the API); the page reloads to
// show the stored state.

import { api } from "./http.js";

const $ = (id) => document.getElementById(id);

function say(text, bad = false) {
  const out = $("manage-status");
  if (!out) return;
  out.textContent = text;
  out.className = bad ? "small error" : "small";
}

async function attempt(work) {
  try { await work(); } catch (error) { say(error.message, true); }
}

// Home page: a new project, then straight to its members page to invite the team.
const newProject = $("new-project-form");
if (newProject) {
  newProject.onsubmit = (e) => {
    e.preventDefault();
    const fields = Object.fromEntries(new FormData(newProject).entries());
    attempt(async () => {
      const project = await api(newProject.dataset.api, { method: "POST", json: fields });
      location.assign(`/studio/projects/${project.id}/members/`);
    });
  };
}

const page = $("members-page");
if (page) {
  const membersApi = page.dataset.membersApi;

  const memberForm = $("member-form");
  if (memberForm) {
    memberForm.onsubmit = (e) => {
      e.preventDefault();
      const fields = Object.fromEntries(new FormData(memberForm).entries());
      attempt(async () => {
        await api(membersApi, { method: "POST", json: fields });
        // The answer does not say whether the account exists; the member list does.
        const members = await api(membersApi);
        if (members.some((m) => m.username === fields.username)) location.reload();
        else say(`No active account is named “${fields.username}”: nobody was added.`, true);
      });
    };
  }

  document.querySelectorAll("select[data-role]").forEach((select) => {
    const stored = select.value;
    select.onchange = () => attempt(async () => {
      try {
        await api(`${membersApi}${select.dataset.role}/`, { method: "PATCH", json: { role: select.value } });
      } catch (error) {
        select.value = stored;  // the role did not change: show the one that holds
        throw error;
      }
      location.reload();
    });
  });

  document.querySelectorAll("button[data-remove]").forEach((button) => {
    button.onclick = () => {
      const name = button.closest("tr").dataset.username;
      if (!confirm(`Remove ${name} from this project? Their work stays; they lose access at once.`)) return;
      attempt(async () => {
        await api(`${membersApi}${button.dataset.remove}/`, { method: "DELETE" });
        location.reload();
      });
    };
  });

  const projectForm = $("project-form");
  if (projectForm) {
    projectForm.onsubmit = (e) => {
      e.preventDefault();
      // Only what changed: the audit trail then records just that change.
      const { name, description, require_references: required } = projectForm.elements;
      const json = {};
      if (name.value !== name.defaultValue) json.name = name.value;
      if (description.value !== description.defaultValue) json.description = description.value;
      if (required.checked !== required.defaultChecked) json.require_references = required.checked;
      if (!Object.keys(json).length) { say("Nothing changed."); return; }
      attempt(async () => {
        await api(page.dataset.projectApi, { method: "PATCH", json });
        location.reload();
      });
    };
  }
}
