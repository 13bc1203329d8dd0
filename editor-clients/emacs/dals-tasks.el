;;; dals-tasks.el --- DALS task list, task buffer and approvals  -*- lexical-binding: t; -*-

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The views of dals.el: the task list (`dals-tasks', a
;; `tabulated-list-mode' buffer), one task's events (`dals-show-task'),
;; and the commands on a task: cancel, resume, approve and reject.  They
;; read the task table that dals.el keeps current from notifications,
;; and follow it through `dals-tasks-changed-hook' and
;; `dals-task-event-functions'.

;;; Code:

(require 'cl-lib)
(require 'diff-mode)
(require 'json)
(require 'seq)
(require 'subr-x)
(require 'tabulated-list)
(require 'dals)

(defvar-local dals--task-id nil "The task shown in this buffer.")
(defvar-local dals--shown-seq 0 "The highest seq shown in this buffer.")

;;;; Task list buffer

(defconst dals--tasks-buffer-name "*DALS tasks*")

(defvar dals-tasks-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "RET") #'dals-show-task)
    (define-key map "a" #'dals-approve)
    (define-key map "r" #'dals-reject)
    (define-key map "d" #'dals-show-pending)
    (define-key map "k" #'dals-cancel-task)
    (define-key map "R" #'dals-resume-task)
    (define-key map "s" #'dals-start-task)
    map)
  "Keys of `dals-tasks-mode'.")

(define-derived-mode dals-tasks-mode tabulated-list-mode "DALS Tasks"
  "The tasks of the DALS runtime, newest first, updated live.
\\<dals-tasks-mode-map>
\\[dals-show-task] shows a task's events.
\\[dals-approve] and \\[dals-reject] answer its question.
\\[dals-cancel-task] cancels it, \\[dals-resume-task] resumes it.
\\[revert-buffer] fetches the list again.

\\{dals-tasks-mode-map}"
  (setq tabulated-list-format
        [("ID" 22 t) ("Status" 10 t)
         ("Steps" 5 nil :right-align t) ("Requests" 8 nil :right-align t)
         ("Title" 0 nil)])
  (setq tabulated-list-padding 1)
  (setq tabulated-list-entries #'dals--tasks-entries)
  (add-hook 'tabulated-list-revert-hook #'dals--tasks-revert nil t)
  (tabulated-list-init-header))

(defun dals--status-face (status)
  "Return the face that shows STATUS."
  (pcase status
    ("succeeded" 'success)
    ((or "failed" "paused") 'error)
    ((or "waiting" "retrying" "cancelled") 'warning)
    (_ 'font-lock-keyword-face)))

(defun dals--first-line (text max)
  "The first non-empty line of TEXT, cut to MAX characters."
  (let ((line (or (seq-find (lambda (l) (not (string-empty-p l)))
                            (mapcar #'string-trim (split-string (or text "") "\n")))
                  "")))
    (if (> (length line) max) (concat (substring line 0 (1- max)) "…") line)))

(defun dals--list-title (task)
  "TASK's title for the list.
A retrying or paused task's title ends with why, and how to resume it."
  (let ((title (or (plist-get task :title) ""))
        (status (plist-get task :status)))
    (if (not (member status dals--failing-statuses))
        title
      (concat title "  "
              (propertize (format "[%s: %s; R resumes]" status
                                  (let ((why (plist-get task :lastFailure)))
                                    (if (stringp why) (dals--first-line why 80) "no reason yet")))
                          'face (dals--status-face status))))))

(defun dals--created-key (id task)
  "Sort key of TASK (ID): its creation time in ms, then ID.
Ids start with the creation time in seconds only: tasks started within one second would
otherwise come in random order.  A task known only from its events yet has no `createdAt':
the seconds of its ID stand in."
  (concat (or (plist-get task :createdAt)
              (and (string-match "\\`\\([0-9]\\{4\\}\\)\\([0-9]\\{2\\}\\)\\([0-9]\\{2\\}\\)-\\([0-9]\\{2\\}\\)\\([0-9]\\{2\\}\\)\\([0-9]\\{2\\}\\)" id)
                   (format "%s-%s-%sT%s:%s:%s" (match-string 1 id) (match-string 2 id) (match-string 3 id)
                           (match-string 4 id) (match-string 5 id) (match-string 6 id)))
              "")
          " " id))

(defun dals--tasks-entries ()
  "Rows for `tabulated-list-entries', newest task first."
  (let (entries)
    (maphash
     (lambda (id task)
       (let ((status (or (plist-get task :status) "")))
         (push (cons (dals--created-key id task)
                     (list id (vector id
                                      (propertize status 'face (dals--status-face status))
                                      (number-to-string (or (plist-get task :steps) 0))
                                      (number-to-string
                                       (or (plist-get (plist-get task :usage) :requests) 0))
                                      (dals--list-title task))))
               entries)))
     dals--tasks)
    (mapcar #'cdr (sort entries (lambda (a b) (string> (car a) (car b)))))))

(defun dals--tasks-revert ()
  "Fetch the task list again (\\[revert-buffer] in the tasks buffer)."
  (dals--refresh (dals--server)))

(defun dals--tasks-redisplay ()
  "Redisplay the tasks buffer, if there is one."
  (let ((buffer (get-buffer dals--tasks-buffer-name)))
    (when buffer
      (with-current-buffer buffer
        (tabulated-list-print t)))))

(add-hook 'dals-tasks-changed-hook #'dals--tasks-redisplay)

;;;###autoload
(defun dals-tasks ()
  "List DALS tasks in a buffer that events keep current."
  (interactive)
  (let ((server (dals--server)))
    (with-current-buffer (get-buffer-create dals--tasks-buffer-name)
      (unless (derived-mode-p 'dals-tasks-mode) (dals-tasks-mode))
      (setq dals--buffer-server server)
      (setq default-directory (project-root (eglot--project server)))
      (tabulated-list-print t)
      (dals--refresh server)
      (pop-to-buffer (current-buffer))
      (current-buffer))))


(defun dals--read-task-id (prompt &optional statuses)
  "The task at point, or one read with PROMPT; offer tasks in STATUSES first."
  (or (and (derived-mode-p 'dals-tasks-mode) (tabulated-list-get-id))
      (and (derived-mode-p 'dals-task-mode) dals--task-id)
      (progn
        (when (zerop (hash-table-count dals--tasks))
          (dals--merge-summaries
           (plist-get (dals--command (dals--server) "dals.listTasks") :tasks)))
        (let* ((ids (sort (hash-table-keys dals--tasks) #'string>))
               (preferred (seq-filter (lambda (id)
                                        (member (plist-get (gethash id dals--tasks) :status)
                                                statuses))
                                      ids))
               (completion-extra-properties
                (list :annotation-function
                      (lambda (id)
                        (let ((task (gethash id dals--tasks)))
                          (format "  %-9s %s" (plist-get task :status)
                                  (plist-get task :title)))))))
          (unless ids (user-error "No DALS tasks"))
          (completing-read prompt (append preferred (seq-difference ids preferred))
                           nil t nil nil (car (or preferred ids)))))))

;;;###autoload
(defun dals-cancel-task (task-id)
  "Cancel the DALS task TASK-ID (at point in the tasks buffer)."
  (interactive
   (let ((id (dals--read-task-id "Cancel DALS task: "
                                 '("queued" "running" "waiting" "retrying" "paused"))))
     (unless (y-or-n-p (format "Cancel DALS task %s? " id)) (user-error "Not cancelled"))
     (list id)))
  (let ((result (dals--command (dals--server) "dals.cancelTask" (list :taskId task-id))))
    (message "DALS task %s: %s" task-id (plist-get result :status))
    result))

;;;###autoload
(defun dals-resume-task (task-id)
  "Retry the paused or retrying DALS task TASK-ID now, from its journal."
  (interactive (list (dals--read-task-id "Resume DALS task: " '("paused" "retrying"))))
  (let* ((server (dals--server))
         (result (dals--command server "dals.resumeTask" (list :taskId task-id))))
    (dals--refresh server)
    (message "DALS task %s: %s" task-id (plist-get result :status))
    result))

;;;; One task's events

(defvar dals-task-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "RET") #'dals-show-event)
    (define-key map "a" #'dals-approve)
    (define-key map "r" #'dals-reject)
    (define-key map "d" #'dals-show-pending)
    (define-key map "k" #'dals-cancel-task)
    (define-key map "R" #'dals-resume-task)
    map)
  "Keys of `dals-task-mode'.")

(define-derived-mode dals-task-mode special-mode "DALS Task"
  "One DALS task and its events, updated live.
\\<dals-task-mode-map>\\[dals-show-event] shows the event at point (an edit's diff).

\\{dals-task-mode-map}"
  (setq-local revert-buffer-function #'dals--task-revert))

(defun dals--time (at)
  "Local HH:MM:SS of the ISO 8601 time AT."
  (or (ignore-errors (format-time-string "%T" (date-to-time at))) at ""))

(defun dals--insert-event (event)
  "Insert one line for EVENT; a status event's title in the colour of its status."
  (let ((title (or (plist-get event :title) "")))
    (when (equal (plist-get event :kind) "status")
      (setq title (propertize title 'face (dals--status-face (plist-get event :status)))))
    (insert (propertize (format "%4d  %s  %-8s %s\n"
                                (plist-get event :seq) (dals--time (plist-get event :at))
                                (plist-get event :kind) title)
                        'dals-event event))))

(defun dals--render-task (task)
  "Fill the current buffer with TASK (a `dals.showTask' result)."
  (let ((inhibit-read-only t)
        (status (or (plist-get task :status) ""))
        (line (point)))
    (erase-buffer)
    (insert (propertize (or (plist-get task :title) "") 'face 'bold) "\n")
    (cl-flet ((field (name value)
                (when (and value (not (equal value "")))
                  (insert (format "%-14s %s\n" (concat name ":")
                                  (replace-regexp-in-string
                                   "\n" (concat "\n" (make-string 15 ?\s))
                                   (string-trim-right value)))))))
      (field "Task" (concat (format "%s  %s" (plist-get task :taskId)
                                    (propertize status 'face (dals--status-face status)))
                            (and (member status dals--failing-statuses) "  (R retries now)")))
      (field "Workspace" (plist-get task :workspace))
      (field "Model" (and (plist-get task :model)
                          (format "%s, %s mode" (plist-get task :model)
                                  (or (plist-get task :mode) "auto"))))
      (field "Usage" (plist-get task :usageLine))
      (field "Result" (plist-get task :result))
      (field "Error" (plist-get task :error))
      (field "Last failure" (let ((why (plist-get task :lastFailure)))
                              (and (stringp why)
                                   (propertize why 'face (if (member status dals--failing-statuses)
                                                             (dals--status-face status)
                                                           'warning)))))
      (field "Waiting" (plist-get (plist-get task :pending) :question)))
    (insert "\n")
    (seq-doseq (event (plist-get task :events)) (dals--insert-event event))
    (setq dals--shown-seq (or (plist-get task :lastSeq)
                              (length (plist-get task :events))))
    (goto-char (min line (point-max)))))

(defun dals--task-revert (&rest _)
  "Fetch this buffer's task again."
  (dals--render-task (dals--command (dals--server) "dals.showTask"
                                    (list :taskId dals--task-id))))

(defun dals--task-buffer-event (server event)
  "Append EVENT from SERVER to its task's buffer, if one is open."
  (let ((buffer (get-buffer (format "*DALS task %s*" (plist-get event :taskId))))
        (seq (plist-get event :seq)))
    (when buffer
      (with-current-buffer buffer
        (when (> seq dals--shown-seq)
          (if (and (= seq (1+ dals--shown-seq))
                   ;; a status event changes the header (status, last failure): fetch it all
                   (not (equal (plist-get event :kind) "status"))
                   (not (member (plist-get event :status) dals--final-statuses)))
              (let ((inhibit-read-only t))
                (save-excursion (goto-char (point-max)) (dals--insert-event event))
                (setq dals--shown-seq seq))
            ;; A gap, a status change or the end: fetch the whole task, header included.
            (dals--command-async server "dals.showTask" (list :taskId dals--task-id)
                                 (lambda (task)
                                   (when (and task (buffer-live-p buffer))
                                     (with-current-buffer buffer
                                       (dals--render-task task)))))))))))

(add-hook 'dals-task-event-functions #'dals--task-buffer-event)

;;;###autoload
(defun dals-show-task (task-id)
  "Show the DALS task TASK-ID with all its events.  Return the buffer."
  (interactive (list (dals--read-task-id "Show DALS task: ")))
  (let* ((server (dals--server))
         (task (dals--command server "dals.showTask" (list :taskId task-id))))
    (dals--merge-summaries (list (copy-sequence task)))
    (with-current-buffer (get-buffer-create (format "*DALS task %s*" task-id))
      (unless (derived-mode-p 'dals-task-mode) (dals-task-mode))
      (setq dals--buffer-server server
            dals--task-id task-id)
      (dals--render-task task)
      (pop-to-buffer (current-buffer))
      (current-buffer))))

(defun dals--show-diff (diff header)
  "Show DIFF, a unified diff, in a `diff-mode' buffer headed by HEADER."
  (with-current-buffer (get-buffer-create "*DALS diff*")
    (let ((inhibit-read-only t))
      (erase-buffer)
      (insert diff)
      (unless (string-suffix-p "\n" diff) (insert "\n")))
    (diff-mode)
    (setq buffer-read-only t)
    (setq header-line-format header)
    (goto-char (point-min))
    (display-buffer (current-buffer))
    (current-buffer)))

(defun dals-show-event ()
  "Show the event at point: an edit's diff, else its detail."
  (interactive)
  (let* ((event (or (get-text-property (point) 'dals-event)
                    (user-error "No event on this line")))
         (detail (plist-get event :detail)))
    (if (plist-get detail :diff)
        (dals--show-diff (plist-get detail :diff) (plist-get event :title))
      (message "%s" (if detail (json-encode detail) (plist-get event :title))))))

(provide 'dals-tasks)
;;; dals-tasks.el ends here
