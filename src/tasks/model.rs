//! The task state machine and the visibility rules, free of I/O.

use crate::{auth::CurrentUser, error::AppError};

pub use crate::entity::task::TaskStatus;

/// What can happen to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskAction {
    Approve,
    Reject,
    CompleteSubtask,
    /// Done by the server when the last subtask is completed.
    Complete,
}

impl TaskAction {
    /// The one status each action starts from.
    pub fn required_status(self) -> TaskStatus {
        match self {
            TaskAction::Approve | TaskAction::Reject => TaskStatus::PendingApproval,
            TaskAction::CompleteSubtask | TaskAction::Complete => TaskStatus::Approved,
        }
    }

    /// The status an action leads to.
    pub fn target_status(self) -> TaskStatus {
        match self {
            TaskAction::Approve | TaskAction::CompleteSubtask => TaskStatus::Approved,
            TaskAction::Reject => TaskStatus::Rejected,
            TaskAction::Complete => TaskStatus::Completed,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            TaskAction::Approve => "approved",
            TaskAction::Reject => "rejected",
            TaskAction::CompleteSubtask => "worked on",
            TaskAction::Complete => "completed",
        }
    }
}

/// The 409 for an action attempted from the wrong status.
pub fn check_transition(task_id: i64, current: TaskStatus, action: TaskAction) -> Result<(), AppError> {
    if current == action.required_status() {
        Ok(())
    } else {
        Err(AppError::InvalidState(format!(
            "task {task_id} is {} and cannot be {} (it must be {})",
            current,
            action.verb(),
            action.required_status()
        )))
    }
}

/// ADMINs see every task; others the tasks they created or are assigned.
pub fn can_view(user: &CurrentUser, created_by: i64, assignee: i64) -> bool {
    user.is_admin() || user.id == created_by || user.id == assignee
}

/// Subtasks are completed by the task's assignee or an ADMIN.
pub fn can_complete_subtasks(user: &CurrentUser, assignee: i64) -> bool {
    user.is_admin() || user.id == assignee
}

/// The non-ADMIN users who receive a task's events.
pub fn audience(created_by: i64, assignee: i64) -> Vec<i64> {
    if created_by == assignee { vec![created_by] } else { vec![created_by, assignee] }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::Role;

    fn user(id: i64, role: Role) -> CurrentUser {
        CurrentUser { id, username: format!("u{id}"), role }
    }

    #[test]
    fn only_pending_tasks_can_be_decided() {
        for action in [TaskAction::Approve, TaskAction::Reject] {
            assert!(check_transition(1, TaskStatus::PendingApproval, action).is_ok());
            for status in [TaskStatus::Approved, TaskStatus::Rejected, TaskStatus::Completed] {
                assert!(matches!(check_transition(1, status, action), Err(AppError::InvalidState(_))));
            }
        }
    }

    #[test]
    fn only_approved_tasks_have_subtasks_worked_on() {
        assert!(check_transition(1, TaskStatus::Approved, TaskAction::CompleteSubtask).is_ok());
        for status in [TaskStatus::PendingApproval, TaskStatus::Rejected, TaskStatus::Completed] {
            assert!(check_transition(1, status, TaskAction::CompleteSubtask).is_err());
        }
        assert_eq!(TaskAction::Complete.target_status(), TaskStatus::Completed);
        assert_eq!(TaskAction::Approve.target_status(), TaskStatus::Approved);
        assert_eq!(TaskAction::Reject.target_status(), TaskStatus::Rejected);
    }

    #[test]
    fn the_error_names_the_current_status() {
        let err = check_transition(7, TaskStatus::Rejected, TaskAction::Approve).unwrap_err();
        assert!(err.to_string().contains("task 7 is rejected"));
    }

    #[test]
    fn visibility_and_completion_rules() {
        let admin = user(1, Role::Admin);
        let creator = user(2, Role::AdminLimited);
        let assignee = user(3, Role::AdminLimited);
        let stranger = user(4, Role::AdminLimited);
        assert!(can_view(&admin, 2, 3));
        assert!(can_view(&creator, 2, 3));
        assert!(can_view(&assignee, 2, 3));
        assert!(!can_view(&stranger, 2, 3));
        assert!(can_complete_subtasks(&admin, 3));
        assert!(can_complete_subtasks(&assignee, 3));
        assert!(!can_complete_subtasks(&creator, 3));
    }

    #[test]
    fn the_audience_is_creator_and_assignee() {
        assert_eq!(audience(2, 3), vec![2, 3]);
        assert_eq!(audience(2, 2), vec![2]);
    }
}
